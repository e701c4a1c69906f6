"""The provider's asset and the seam between the construct library and the provider.

The construct library shares only ``managed_things_model`` with the provider: it
bundles the provider's directory without importing its modules, and vendors the
model package beside it, as crhelper is vendored.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from cdk_managed_things import _asset

SERVICE = "iot-managed-integrations"
SOURCE_ROOTS = ("constructs", "lambda", "model")

SYNTH_AND_LIST_MODULES = r"""
import json
import sys

import aws_cdk as cdk
from cdk_managed_things import AuthenticationMaterialType, ManagedThing, Role

app = cdk.App(outdir=sys.argv[1])
stack = cdk.Stack(app, "Seam")
ManagedThing(
    stack,
    "Hub",
    role=Role.CONTROLLER,
    authentication_material_type=AuthenticationMaterialType.ZIGBEE_QR_BAR_CODE,
    authentication_material="Z:00124B0000000001$I:A1B2C3D4E5F6A7B8",
)
app.synth()
print("MODULES " + json.dumps(sorted(sys.modules)))
"""


@pytest.fixture(scope="module")
def built_asset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("asset")
    _asset.build_asset(directory)
    return directory


def test_the_asset_vendors_the_shared_model_beside_the_provider(built_asset: Path) -> None:
    # GIVEN the asset as CDK bundles it
    # WHEN its top level is listed
    # THEN the provider and the shared model are two packages side by side, with crhelper and Powertools
    for package in ("managed_thing_provider", "managed_things_model", "crhelper", "aws_lambda_powertools"):
        assert (built_asset / package / "__init__.py").is_file(), package
    for module in ("contract", "service_model", "validation", "cfn_encoding"):
        assert (built_asset / "managed_things_model" / f"{module}.py").is_file(), module
    # AND the service model is bundled in the model package, where service_model looks for it, and nowhere else
    (model,) = (built_asset / "managed_things_model" / "botocore_data" / SERVICE).glob("*/service-2.json")
    assert "CreateManagedThing" in json.loads(model.read_text())["operations"]
    assert not (built_asset / "managed_thing_provider" / "botocore_data").exists()
    # AND no bytecode, although the sources have been imported (and compiled) by this very test run
    assert not [p for p in built_asset.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]


def test_the_asset_hash_covers_the_shared_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN copies of the provider and model sources, which hash as the originals do
    copies = tuple(tmp_path / source.name for source in _asset.SOURCE_DIRS)
    for source, copy in zip(_asset.SOURCE_DIRS, copies, strict=True):
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__", "botocore_data"))
    original = _asset.asset_hash()
    monkeypatch.setattr(_asset, "SOURCE_DIRS", copies)
    _asset.asset_hash.cache_clear()
    try:
        assert _asset.asset_hash() == original

        # WHEN only a module of the shared model changes
        validation = tmp_path / "managed_things_model" / "validation.py"
        validation.write_text(validation.read_text() + "\n# changed\n")
        _asset.asset_hash.cache_clear()

        # THEN the asset hash changes, so CDK uploads a new asset and Lambda runs the new code
        assert _asset.asset_hash() != original
    finally:
        _asset.asset_hash.cache_clear()


@pytest.mark.slow
def test_the_construct_library_synthesizes_without_importing_the_provider(tmp_path: Path) -> None:
    # GIVEN an app with a ManagedThing, in a fresh interpreter that can find every source root
    script = tmp_path / "app.py"
    script.write_text(SYNTH_AND_LIST_MODULES)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(REPO_ROOT / root) for root in SOURCE_ROOTS)}

    # WHEN it synthesizes (bundling the provider's asset)
    result = subprocess.run(
        [sys.executable, script, tmp_path / "cdk.out"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=tmp_path,
    )

    # THEN it used the shared model and never imported a module of the provider
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("MODULES ")]
    modules = json.loads(line.removeprefix("MODULES "))
    assert "managed_things_model.validation" in modules
    assert [m for m in modules if m.split(".")[0] == "managed_thing_provider"] == []
    # AND the asset it bundled carries the provider's handler all the same
    assert list((tmp_path / "cdk.out").glob("asset.*/managed_thing_provider/index.py"))
