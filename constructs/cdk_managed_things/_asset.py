"""Build the provider's Lambda asset locally: no Docker, no network.

The asset holds the provider package and, beside it, the shared
``managed_things_model`` package; the pure-Python libraries the provider imports
beyond what the Lambda runtime ships (crhelper, Powertools and their
requirements), copied from the installed, pinned distributions; and the service
model of the installed botocore, bundled in ``managed_things_model``, so every
request member reaches the API whatever botocore the runtime has.

The provider's modules are never imported here (they are Lambda code): its
directory is found with ``importlib.util.find_spec``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata as metadata
import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import botocore
import jsii
from aws_cdk import aws_lambda as lambda_
from packaging.requirements import Requirement

import managed_things_model
from managed_things_model.contract import PROVIDER_PACKAGE
from managed_things_model.service_model import BUNDLED_DATA_DIR, SERVICE_NAME, botocore_session


def _package_dir(name: str) -> Path:
    """The directory of an import package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{name} is not installed: the provider's asset cannot be built", name=name)
    return Path(next(iter(spec.submodule_search_locations))).resolve()


PROVIDER_SOURCE_DIR = _package_dir(PROVIDER_PACKAGE)
MODEL_SOURCE_DIR = Path(managed_things_model.__file__).resolve().parent
# The packages of ours the asset carries, each copied as a top-level package of the asset.
SOURCE_DIRS = (PROVIDER_SOURCE_DIR, MODEL_SOURCE_DIR)
VENDORED_DISTRIBUTIONS = ("crhelper", "aws-lambda-powertools")
# What every Lambda Python runtime already has: boto3 and its requirements.
RUNTIME_DISTRIBUTIONS = frozenset({"boto3", "botocore", "jmespath", "s3transfer", "urllib3", "python-dateutil", "six"})
SERVICE_MODEL_FILES = ("service-2", "endpoint-rule-set-1", "paginators-1")
_SKIPPED_METADATA = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})


def provider_code() -> lambda_.Code:
    """The provider's code, bundled locally and hashed by what goes into it."""
    return lambda_.Code.from_asset(
        str(PROVIDER_SOURCE_DIR),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        asset_hash=asset_hash(),
        bundling=cdk.BundlingOptions(
            # Never pulled: local bundling always succeeds. CDK requires an image anyway.
            image=cdk.DockerImage.from_registry("public.ecr.aws/sam/build-python3.13"),
            command=["false"],
            local=_LocalBundling(),
        ),
    )


def build_asset(output_dir: Path) -> None:
    """Write the complete asset directory (used by CDK bundling and by tests)."""
    for source in SOURCE_DIRS:
        _copy_tree(source, output_dir / source.name)
    for distribution in vendored_distributions():
        _copy_distribution(distribution, output_dir)
    _write_service_model(output_dir / MODEL_SOURCE_DIR.name / BUNDLED_DATA_DIR.name)


@functools.cache
def vendored_distributions() -> tuple[metadata.Distribution, ...]:
    """The vendored distributions and everything they require, minus what the runtime ships."""
    found: dict[str, metadata.Distribution] = {}
    pending = list(VENDORED_DISTRIBUTIONS)
    while pending:
        name = _canonical(pending.pop())
        if name in found or name in RUNTIME_DISTRIBUTIONS:
            continue
        distribution = metadata.distribution(name)
        found[name] = distribution
        for text in distribution.requires or ():
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return tuple(found[name] for name in sorted(found))


@functools.cache
def asset_hash() -> str:
    """A hash of everything the asset is built from, cheap enough for every synth."""
    digest = hashlib.sha256()
    for source in SOURCE_DIRS:
        for path in sorted(_source_files(source)):
            digest.update(f"{source.name}/{path.relative_to(source).as_posix()}".encode())
            digest.update(path.read_bytes())
    for distribution in vendored_distributions():
        digest.update(f"{distribution.metadata['Name']}=={distribution.version}".encode())
    digest.update(f"botocore=={botocore.__version__}".encode())
    return digest.hexdigest()


@jsii.implements(cdk.ILocalBundling)
class _LocalBundling:
    def try_bundle(self, output_dir: str, *_args: Any, **_options: Any) -> bool:
        build_asset(Path(output_dir))
        return True


def _source_files(root: Path) -> list[Path]:
    return [
        p
        for p in root.rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and p.suffix != ".pyc"
        and BUNDLED_DATA_DIR.name not in p.relative_to(root).parts
    ]


def _copy_tree(source: Path, target: Path) -> None:
    for path in _source_files(source):
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)


def _copy_distribution(distribution: metadata.Distribution, output_dir: Path) -> None:
    for file in distribution.files or ():
        parts = Path(file).parts
        if not parts or parts[0] == ".." or "__pycache__" in parts or file.suffix == ".pyc":
            continue
        if parts[0].endswith(".dist-info") and parts[-1] in _SKIPPED_METADATA:
            continue
        source = Path(str(distribution.locate_file(file)))
        destination = output_dir / Path(*parts)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)


def _write_service_model(data_dir: Path) -> None:
    loader = botocore_session().get_component("data_loader")
    api_version = loader.determine_latest_version(SERVICE_NAME, "service-2")
    target = data_dir / SERVICE_NAME / api_version
    target.mkdir(parents=True, exist_ok=True)
    for type_name in SERVICE_MODEL_FILES:
        model = loader.load_service_model(SERVICE_NAME, type_name, api_version)
        (target / f"{type_name}.json").write_text(json.dumps(model, separators=(",", ":")))


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")
