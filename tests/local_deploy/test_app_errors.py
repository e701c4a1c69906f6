"""An app that the construct library refuses: its message, not a Python traceback; other app failures as they were.

``managed-things deploy|diff`` run the CDK app as a subprocess, like the CDK CLI. A ``ConfigurationError`` (a bad
inventory row, an invalid ``ManagedThing``) ends the run with the error's own lines and one line of advice.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from deploy_support import run_cli

from managed_things_local.engine.synthesis import APP_ERROR_ADVICE

FLEET_APP = """\
    import aws_cdk as cdk
    from cdk_managed_things import ManagedThingFleet

    app = cdk.App()
    stack = cdk.Stack(app, "Home")
    ManagedThingFleet(
        stack, "Plugs", inventory="devices.csv", key="SerialNumber",
        defaults={"AuthenticationMaterialType": "ZWAVE_QR_BAR_CODE"},
    )
    app.synth()
"""
# The second row's role is not one the service knows.
INVENTORY = "SerialNumber,Role,AuthenticationMaterial\nPLUG-1,DEVICE,Z:CODE1\nPLUG-2,HUB,Z:CODE2\n"
INVENTORY_ERROR = [
    "Invalid ManagedThingFleet inventory (1 problem):",
    "Home/Plugs: devices.csv:3: Role must be one of CONTROLLER, DEVICE (got 'HUB')",
]

THING_APP = """\
    import aws_cdk as cdk
    from cdk_managed_things import AuthenticationMaterialType, ManagedThing, Role

    app = cdk.App()
    stack = cdk.Stack(app, "Home")
    ManagedThing(stack, "Sensor", role=Role.DEVICE, name="n" * 129,
                 authentication_material_type=AuthenticationMaterialType.ZIGBEE_QR_BAR_CODE,
                 authentication_material="Z:00124B0000000001")
    app.synth()
"""
THING_ERROR = ["Invalid ManagedThing:", "Home/Sensor: name must be 1 to 128 characters long (got 129 characters)"]

FAILING_APP = """\
    import cdk_managed_things

    raise RuntimeError("the app's own bug")
"""


def write_app(directory: Path, source: str) -> str:
    """The app in ``directory`` (the cwd), with the bad inventory beside it; the command that runs it."""
    (directory / "app.py").write_text(textwrap.dedent(source))
    (directory / "devices.csv").write_text(INVENTORY)
    return f"{shlex.quote(sys.executable)} app.py"


@pytest.fixture
def app_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("command", "source", "error"),
    [
        # a fleet whose inventory has a row with an unknown role
        ("deploy", FLEET_APP, INVENTORY_ERROR),
        # a ManagedThing whose name is too long
        ("diff", THING_APP, THING_ERROR),
    ],
)
def test_a_configuration_error_is_its_lines_and_advice_not_a_traceback(
    app_dir: Path, capsys: Any, command: str, source: str, error: list[str]
) -> None:
    # GIVEN an app that the construct library refuses
    app = write_app(app_dir, source)
    # WHEN it is deployed, or diffed
    run = run_cli(capsys, command, "--app", app)
    # THEN the run fails with the error's lines and one line of advice, no traceback, and nothing deployed
    assert run.code == 1
    assert "Traceback" not in run.stderr
    lines = [line.strip() for line in run.stderr.splitlines() if line.strip()]
    assert lines[-3:] == [f"❌  {error[0]}", error[1], APP_ERROR_ADVICE]
    assert not (app_dir / ".managed-things" / "state.sqlite").exists()


def test_another_failure_of_the_app_keeps_its_traceback(app_dir: Path, capsys: Any) -> None:
    # GIVEN an app that fails with its own error, after importing the library
    app = write_app(app_dir, FAILING_APP)
    # WHEN it is deployed
    run = run_cli(capsys, "deploy", "--app", app)
    # THEN its traceback is shown as the app printed it, and the run says the app failed
    assert run.code == 1
    assert "Traceback (most recent call last):" in run.stderr
    assert "RuntimeError: the app's own bug" in run.stderr
    assert f"The app failed: `{app}` exited with code 1" in run.stderr


def test_run_as_cdk_synth_runs_it_the_error_ends_pythons_usual_traceback(app_dir: Path) -> None:
    # GIVEN the fleet with the bad inventory, run the way `cdk synth` runs an app (without managed-things)
    app = write_app(app_dir, FLEET_APP)
    env = {**os.environ, "CDK_OUTDIR": str(app_dir / "cdk.out")}
    # WHEN it runs
    result = subprocess.run(shlex.split(app), env=env, capture_output=True, text=True, timeout=300, check=False)
    # THEN Python's traceback shows where in the app, and ends with the error, named as the library exports it
    assert result.returncode == 1
    assert "Traceback (most recent call last):" in result.stderr
    assert 'File "' + str(app_dir / "app.py") + '"' in result.stderr
    assert result.stderr.rstrip().splitlines()[-2:] == [
        f"cdk_managed_things.ConfigurationError: {INVENTORY_ERROR[0]}",
        INVENTORY_ERROR[1],
    ]
