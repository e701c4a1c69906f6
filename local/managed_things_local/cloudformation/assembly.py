"""Synthesize a CDK app and read its cloud assembly: stacks, templates, dependencies and asset directories."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shutil
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DeployError
from .annotations import Annotation, read_annotations
from .things_manifest import read_things_manifests, thing_labels

STACK_ARTIFACT = "aws:cloudformation:stack"
NESTED_ASSEMBLY_ARTIFACT = "cdk:cloud-assembly"
ASSET_MANIFEST_ARTIFACT = "cdk:asset-manifest"
DEFAULT_OUTDIR = "cdk.out"
_STAGED_ASSET = re.compile(r"asset\.[0-9a-f]{64}")


@dataclass(frozen=True)
class StackArtifact:
    """One stack of the assembly, as the CDK CLI sees it."""

    artifact_id: str
    stack_name: str
    display_name: str
    template: dict[str, Any]
    assembly_dir: Path
    region: str | None
    account: str | None
    dependencies: tuple[str, ...] = ()
    asset_files: dict[str, dict[str, Any]] = field(default_factory=dict)
    annotations: tuple[Annotation, ...] = ()
    template_file: str = ""  # the template's file, relative to assembly_dir

    @property
    def template_path(self) -> Path:
        return self.assembly_dir / self.template_file

    def asset_source(self, object_key: str) -> Path | None:
        """The file or directory of this assembly's asset uploaded as ``object_key`` (its asset manifest's)."""
        digest = object_key.rsplit("/", 1)[-1].split(".", 1)[0]
        source = (self.asset_files.get(digest) or {}).get("source") or {}
        path = source.get("path")
        return (self.assembly_dir / path).resolve() if isinstance(path, str) else None

    labels: Mapping[str, str] = field(default_factory=dict)  # logical id -> label, of the fleet things it holds

    def code_directory(self, logical_id: str) -> Path:
        """The synthesized code directory of a Lambda function of this stack (zips are extracted by the caller)."""
        resource = self.template.get("Resources", {}).get(logical_id, {})
        metadata = resource.get("Metadata") or {}
        asset_path = metadata.get("aws:asset:path")
        if isinstance(asset_path, str) and metadata.get("aws:asset:property", "Code") == "Code":
            return (self.assembly_dir / asset_path).resolve()
        code = (resource.get("Properties") or {}).get("Code") or {}
        key = code.get("S3Key")
        source = self.asset_source(key) if isinstance(key, str) else None
        if source is not None:
            return source
        raise DeployError(
            f"{self.stack_name}: cannot find the code of {logical_id}: its template has neither "
            "aws:asset:path metadata nor an S3Key of this assembly's assets (inline or external code "
            "is not run locally)"
        )


@dataclass(frozen=True)
class CloudAssembly:
    directory: Path
    stacks: tuple[StackArtifact, ...]

    def select(self, patterns: Sequence[str]) -> list[StackArtifact]:
        """Stacks matching any pattern (artifact id, display name or stack name; globs allowed); all without any."""
        if not patterns:
            return list(self.stacks)
        selected: list[StackArtifact] = []
        for pattern in patterns:
            matches = [s for s in self.stacks if _matches(s, pattern)]
            if not matches:
                names = ", ".join(s.display_name for s in self.stacks) or "none"
                raise DeployError(f"No stack matches '{pattern}' (stacks in the app: {names})")
            selected += [s for s in matches if s not in selected]
        return selected


def _matches(stack: StackArtifact, pattern: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for name in (stack.artifact_id, stack.display_name, stack.stack_name))


def cdk_json(cwd: Path) -> dict[str, Any]:
    path = cwd / "cdk.json"
    return read_json(path) if path.is_file() else {}


def read_assembly(directory: Path) -> CloudAssembly:
    directory = directory.resolve()
    if not (directory / "manifest.json").is_file():
        raise DeployError(f"{directory} is not a cloud assembly (no manifest.json)")
    stacks: list[StackArtifact] = []
    _read_manifest(directory, "", stacks)
    return CloudAssembly(directory, tuple(stacks))


def _read_manifest(directory: Path, prefix: str, stacks: list[StackArtifact]) -> None:
    manifest = read_json(directory / "manifest.json")
    artifacts: dict[str, Any] = manifest.get("artifacts") or {}
    stack_ids = {name for name, a in artifacts.items() if a.get("type") == STACK_ARTIFACT}
    asset_files: dict[str, dict[str, Any]] = {}
    for artifact in artifacts.values():
        if artifact.get("type") == ASSET_MANIFEST_ARTIFACT:
            file = (artifact.get("properties") or {}).get("file")
            if file and (directory / file).is_file():
                asset_files.update(read_json(directory / file).get("files") or {})
    # Labels only name fleet things in output: a manifest of another version names none rather than stop a deploy.
    labels = thing_labels(read_things_manifests(directory, skip_other_versions=True))
    for name, artifact in artifacts.items():
        kind = artifact.get("type")
        properties = artifact.get("properties") or {}
        if kind == NESTED_ASSEMBLY_ARTIFACT and properties.get("directoryName"):
            _read_manifest(directory / properties["directoryName"], f"{prefix}{name}/", stacks)
            continue
        if kind != STACK_ARTIFACT:
            continue
        account, region = _environment(artifact.get("environment", ""))
        stacks.append(
            StackArtifact(
                artifact_id=prefix + name,
                stack_name=properties.get("stackName") or name,
                display_name=artifact.get("displayName") or name,
                template=read_json(directory / properties["templateFile"]),
                assembly_dir=directory,
                region=region,
                account=account,
                dependencies=tuple(prefix + d for d in artifact.get("dependencies") or () if d in stack_ids),
                asset_files=asset_files,
                annotations=read_annotations(artifact, directory),
                template_file=properties["templateFile"],
                labels=labels.get(name, {}),
            )
        )


def _environment(environment: str) -> tuple[str | None, str | None]:
    """``aws://account/region``; the ``unknown-*`` placeholders of environment-agnostic stacks are None."""
    if not environment.startswith("aws://"):
        return None, None
    account, _, region = environment[len("aws://") :].partition("/")
    return (
        None if not account or account.startswith("unknown-") else account,
        None if not region or region.startswith("unknown-") else region,
    )


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DeployError(f"Cannot read {path}: {error}") from None
    if not isinstance(data, dict):
        raise DeployError(f"{path} is not a JSON object")
    return data


def stage_code(source: Path, cache: Path) -> Path:
    """Copy a function's code to the local deploy's own directory, once per asset, and return the copy.

    Like Lambda's copy of the deployment package: a later synth that replaces or
    garbage-collects cdk.out does not take the deployed code away (deletes run on it).
    """
    if not source.exists():
        raise DeployError(f"The function code {source} does not exist (synthesize the app again)")
    name = source.name.removesuffix(".zip")
    if not _STAGED_ASSET.fullmatch(name):  # not staged by CDK (staging disabled): name it by its content
        name = f"code.{_content_hash(source)}"
    target = cache / name
    if target.is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    staging = cache / f".{target.name}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    if source.is_dir():
        shutil.copytree(source, staging, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            archive.extractall(staging)
    else:
        raise DeployError(f"The function code {source} is neither a directory nor a zip file")
    try:
        staging.rename(target)
    except OSError:  # another deploy staged it first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _content_hash(source: Path) -> str:
    digest = hashlib.sha256()
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    for path in files:
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(source).as_posix().encode() if path != source else b"")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def prune_code(cache: Path, keep: Iterable[str]) -> None:
    """Remove staged code that no deployed stack and no current function uses."""
    if not cache.is_dir():
        return
    kept = {Path(k).resolve() for k in keep}
    for entry in cache.iterdir():
        if entry.is_dir() and not entry.name.startswith(".") and entry.resolve() not in kept:
            shutil.rmtree(entry, ignore_errors=True)
