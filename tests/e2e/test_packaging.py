"""End to end: the wheel, installed for real in a fresh venv, synthesizes a stack with a complete asset.

The wheel is built from a copy of the working tree in which the things it must
leave out really exist (a bundled service model, bytecode caches). It is then
installed, with its dependencies from the package index, into a venv outside the
repository that cannot see the repository's venv or sources, and a small CDK
app run from a directory outside the repository synthesizes a stack with one
ManagedThing. The asset CDK bundled for the provider function must be complete
and free of bytecode.
"""

from __future__ import annotations

import compileall
import json
import shutil
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from e2e_support import REPO_ROOT, create_venv, isolated_env, pip_install, run, site_packages

pytestmark = pytest.mark.slow

DISTRIBUTION = "cdk_managed_things"
PACKAGES = ("cdk_managed_things", "managed_thing_provider", "managed_things_model", "managed_things_local")
HANDLER = "managed_thing_provider.index.handler"
SERVICE = "iot-managed-integrations"
STACK = "PackagingE2E"

# Never copied into the build tree: environments, outputs and caches.
_NOT_SOURCES = shutil.ignore_patterns(
    ".git",
    ".venv",
    "node_modules",
    "cdk.out",
    "dist",
    "build",
    "*.egg-info",
    ".pytest_cache",
    "__pycache__",
    "*.pyc",
    "botocore_data",
)

APP = r"""
import json
import sys

import aws_cdk as cdk
import cdk_managed_things
import managed_thing_provider
from cdk_managed_things import AuthenticationMaterialType, ManagedThing, Role

outdir = sys.argv[1]
app = cdk.App(outdir=outdir)
stack = cdk.Stack(app, "PackagingE2E", env=cdk.Environment(account="123456789012", region="eu-west-1"))
ManagedThing(
    stack,
    "Hub",
    role=Role.CONTROLLER,
    authentication_material_type=AuthenticationMaterialType.ZIGBEE_QR_BAR_CODE,
    authentication_material="Z:00124B0000000001$I:A1B2C3D4E5F6A7B8",
    name="Packaging hub",
)
app.synth()

print("E2E-REPORT " + json.dumps({
    "files": {module.__name__: module.__file__ for module in (cdk_managed_things, managed_thing_provider, cdk)},
    "sys_path": sys.path,
}))
"""


def _report(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.startswith("E2E-REPORT ")]
    assert len(lines) == 1, f"expected one report line, got:\n{stdout}"
    return json.loads(lines[0].removeprefix("E2E-REPORT "))


def _remove(path: Path) -> None:
    # Venvs and cloud assemblies are large: do not leave them to pytest's retention of old runs.
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built with `python -m build` from a copy of the working tree.

    The copy gets what a developer's tree typically has and the wheel must not:
    a bundled service model in the shared model package and compiled bytecode everywhere.
    """
    root = tmp_path_factory.mktemp("build")
    source = root / "source"
    shutil.copytree(REPO_ROOT, source, ignore=_NOT_SOURCES)
    data = source / "model" / "managed_things_model" / "botocore_data" / SERVICE / "2025-03-03"
    data.mkdir(parents=True)
    (data / "service-2.json").write_text("{}")
    assert all(compileall.compile_dir(source / root, quiet=1) for root in ("constructs", "lambda", "model"))

    run([sys.executable, "-m", "build", "--wheel", "--outdir", root / "dist", source], cwd=root)
    wheels = list((root / "dist").glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def installed_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The python of a fresh venv, outside the repository, with the wheel installed (not editable)."""
    venv = tmp_path_factory.mktemp("installed") / "venv"
    python = create_venv(venv)
    pip_install(python, wheel)
    yield python
    _remove(venv)


def test_wheel_has_the_four_packages_and_nothing_generated(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = [PurePosixPath(name) for name in archive.namelist()]
    top_level = {name.parts[0] for name in names}
    assert {*PACKAGES} <= top_level, sorted(top_level)
    assert all(part in (*PACKAGES,) or part.endswith(".dist-info") for part in top_level), sorted(top_level)
    for package in PACKAGES:
        assert PurePosixPath(package, "__init__.py") in names
    assert PurePosixPath("managed_thing_provider", "index.py") in names
    assert PurePosixPath("cdk_managed_things", "py.typed") in names
    assert not [n for n in names if "botocore_data" in n.parts], "the wheel carries a bundled service model"
    assert not [n for n in names if "__pycache__" in n.parts or n.suffix == ".pyc"], "the wheel carries bytecode"


def test_installed_wheel_synthesizes_a_complete_asset(installed_python: Path, tmp_path: Path) -> None:
    venv = installed_python.parent.parent
    installed = site_packages(installed_python)
    assert installed.is_relative_to(venv)
    # pip compiled the installed packages: the asset must be built without their bytecode.
    assert any((installed / "managed_thing_provider").rglob("*.pyc"))
    assert any((installed / "crhelper").rglob("*.pyc"))

    workdir = tmp_path / "app"
    workdir.mkdir()
    assert not workdir.resolve().is_relative_to(REPO_ROOT)
    (workdir / "app.py").write_text(APP)
    outdir = tmp_path / "cdk.out"
    try:
        result = run(
            [installed_python, "app.py", outdir],
            cwd=workdir,
            env=isolated_env({"JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}),
        )
        _check_synth(_report(result.stdout), venv, installed, outdir)
    finally:
        _remove(outdir)


def _check_synth(report: dict[str, Any], venv: Path, installed: Path, outdir: Path) -> None:
    # The app ran against the installed wheel only.
    for module in ("cdk_managed_things", "managed_thing_provider", "aws_cdk"):
        assert Path(report["files"][module]).is_relative_to(installed), report["files"]
    leaked = [entry for entry in report["sys_path"] if entry and Path(entry).resolve().is_relative_to(REPO_ROOT)]
    assert not leaked, f"the repository is on the app's sys.path: {leaked}"

    template = json.loads((outdir / f"{STACK}.template.json").read_text())
    resources = template["Resources"]
    things = {k: r for k, r in resources.items() if r["Type"] == "Custom::ManagedThing"}
    functions = {
        k: r
        for k, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == HANDLER
    }
    assert len(things) == 1, sorted(resources)
    assert len(functions) == 1, sorted(resources)
    ((function_id, function),) = functions.items()
    (thing,) = things.values()
    assert thing["Properties"]["ServiceToken"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert thing["Properties"]["Role"] == "CONTROLLER"
    assert thing["Properties"]["Name"] == "Packaging hub"

    # The function's code is the asset CDK bundled: find its directory through the assets manifest.
    s3_key = function["Properties"]["Code"]["S3Key"]
    assert isinstance(s3_key, str) and s3_key.endswith(".zip"), s3_key
    asset_hash = s3_key.removesuffix(".zip")
    manifest = json.loads((outdir / f"{STACK}.assets.json").read_text())
    source = manifest["files"][asset_hash]["source"]
    assert source["packaging"] == "zip", source
    asset = outdir / source["path"]
    assert asset.is_dir(), asset

    assert (asset / "managed_thing_provider" / "index.py").is_file()
    assert (asset / "managed_things_model" / "service_model.py").is_file()
    assert (asset / "crhelper" / "__init__.py").is_file()
    assert (asset / "aws_lambda_powertools" / "__init__.py").is_file()
    models = list((asset / "managed_things_model" / "botocore_data" / SERVICE).glob("*/service-2.json"))
    assert len(models) == 1, models
    model = json.loads(models[0].read_text())
    create_input = model["operations"]["CreateManagedThing"]["input"]["shape"]
    assert "WiFiSimpleSetupConfiguration" in model["shapes"][create_input]["members"]

    bytecode = [p.relative_to(asset) for p in asset.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]
    assert not bytecode, f"the asset carries bytecode: {bytecode[:10]}"


def test_installed_wheel_provides_the_managed_things_command(installed_python: Path, tmp_path: Path) -> None:
    # GIVEN the wheel installed in a fresh venv outside the repository
    command = installed_python.parent / "managed-things"

    # WHEN its console script is asked for help, from a directory outside the repository
    result = run([command, "--help"], cwd=tmp_path)

    # THEN the local engine's commands are there
    for subcommand in ("emulator", "deploy", "destroy"):
        assert subcommand in result.stdout
