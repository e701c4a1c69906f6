"""``managed-things emulator`` as a process, answered by the AWS CLI the project installs (requirements.txt)."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT

from managed_things_local.cli import build_parser
from managed_things_local.emulator.cli import options_from
from managed_things_local.emulator.server import EmulatorOptions

READY = re.compile(r"Managed Integrations emulator listening on (http://127\.0\.0\.1:\d+)\n")
# A guard against a hung process, not a measurement: nothing asserts on time.
TIMEOUT = 60


@dataclass
class Emulator:
    process: subprocess.Popen[str]
    url: str

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        """Send ``signum``; return the exit code and what it printed after the ready line."""
        self.process.send_signal(signum)
        rest, _ = self.process.communicate(timeout=TIMEOUT)
        return self.process.returncode, rest


def cli_env(tmp_path: Path) -> dict[str, str]:
    """Fake credentials, eu-west-1, and no AWS configuration of the developer's."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="eu-west-1",
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def start(tmp_path: Path, *args: str) -> Emulator:
    """Run the console script and wait for its ready line."""
    script = Path(sys.executable).parent / "managed-things"
    assert script.exists(), f"{script} missing: install the project (make setup)"
    process = subprocess.Popen(
        [str(script), "emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(tmp_path),
    )
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
        ready = selector.select(TIMEOUT)
    line = process.stdout.readline() if ready else ""  # type: ignore[union-attr]
    match = READY.fullmatch(line)
    if match is None:
        process.kill()
        _, errors = process.communicate(timeout=TIMEOUT)
        raise AssertionError(f"no ready line: {line!r}\n{errors}")
    return Emulator(process, match.group(1))


@pytest.fixture
def emulator_process(tmp_path: Path) -> Iterator[Emulator]:
    emulator = start(tmp_path)
    yield emulator
    if emulator.process.poll() is None:
        emulator.process.kill()
        emulator.process.communicate(timeout=TIMEOUT)


def aws(tmp_path: Path, url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The AWS CLI installed in this venv (not whatever ``aws`` is on PATH)."""
    result = subprocess.run(
        [sys.executable, "-m", "awscli", "iot-managed-integrations", *args, "--endpoint-url", url, "--output", "json"],
        capture_output=True,
        text=True,
        env=cli_env(tmp_path),
        timeout=TIMEOUT,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


def aws_json(tmp_path: Path, url: str, *args: str) -> Any:
    return json.loads(aws(tmp_path, url, *args).stdout)


CREATE = (
    "create-managed-thing",
    "--role", "CONTROLLER",
    "--authentication-material", "WIFI:S:home;;",
    "--authentication-material-type", "WIFI_SETUP_QR_BAR_CODE",
    "--name", "CLI hub",
    "--wi-fi-simple-setup-configuration", "EnableAsProvisioner=true,TimeoutInMinutes=10",
    "--tags", "team=ops",
)  # fmt: skip


def test_the_aws_cli_creates_gets_and_lists(tmp_path: Path, emulator_process: Emulator) -> None:
    # GIVEN the emulator process, ready
    url = emulator_process.url

    # WHEN the AWS CLI creates a thing, reads it and lists things
    created = aws_json(tmp_path, url, *CREATE)
    got = aws_json(tmp_path, url, "get-managed-thing", "--identifier", created["Id"])
    listed = aws_json(tmp_path, url, "list-managed-things", "--role-filter", "CONTROLLER")

    # THEN it sees the thing with its typed members, and the list holds it
    assert created["Arn"].endswith(f":managed-thing/{created['Id']}")
    assert ":eu-west-1:" in created["Arn"]
    assert got["Name"] == "CLI hub" and got["Tags"] == {"team": "ops"}
    assert got["WiFiSimpleSetupConfiguration"] == {"EnableAsProvisioner": True, "TimeoutInMinutes": 10}
    assert [item["Id"] for item in listed["Items"]] == [created["Id"]]

    # and WHEN the CLI sends a value the model does not allow
    refused = aws(tmp_path, url, *CREATE[:2], "HUB", *CREATE[3:], check=False)

    # THEN it reports the service's ValidationException
    assert refused.returncode != 0
    assert "ValidationException" in refused.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_process_prints_one_line_and_exits_cleanly_on_a_signal(emulator_process: Emulator, signum: int) -> None:
    # GIVEN the emulator process, which has printed its ready line
    # WHEN it is sent the signal
    code, rest = emulator_process.stop(signum)

    # THEN it exits 0 without printing anything more
    assert code == 0
    assert rest == ""


def test_state_survives_a_process_restart(tmp_path: Path) -> None:
    # GIVEN an emulator process with a state file, holding a thing made by the AWS CLI
    state = tmp_path / "things.db"
    first = start(tmp_path, "--state", str(state))
    created = aws_json(tmp_path, first.url, *CREATE)
    assert first.stop()[0] == 0

    # WHEN a new process opens the same state file
    second = start(tmp_path, "--state", str(state))
    try:
        got = aws_json(tmp_path, second.url, "get-managed-thing", "--identifier", created["Id"])
    finally:
        assert second.stop()[0] == 0

    # THEN the thing is still there
    assert got["Arn"] == created["Arn"]


def test_the_project_pins_the_aws_cli_it_tests_with() -> None:
    # GIVEN the awscli pinned in requirements.txt
    pins = re.findall(r"^awscli==(\S+)", (REPO_ROOT / "requirements.txt").read_text(), flags=re.MULTILINE)

    # WHEN the CLI these tests run reports its version
    version = subprocess.run(
        [sys.executable, "-m", "awscli", "--version"], capture_output=True, text=True, timeout=TIMEOUT, check=True
    )

    # THEN it is the pinned one
    assert len(pins) == 1
    assert (version.stdout + version.stderr).startswith(f"aws-cli/{pins[0]} ")


def test_fault_flags_become_emulator_options() -> None:
    # GIVEN every knob on the command line
    args = build_parser().parse_args(
        [
            "emulator",
            "--rate-limit", "50",
            "--throttle-fraction", "0.1",
            "--error-fraction", "0.2",
            "--error-after-commit-fraction", "0.3",
            "--latency", "0.05",
            "--seed", "7",
            "--account-id", "111122223333",
        ]
    )  # fmt: skip

    # WHEN they are turned into options
    # THEN each lands in its field
    assert options_from(args) == EmulatorOptions(
        rate_limit=50.0,
        throttle_fraction=0.1,
        error_fraction=0.2,
        error_after_commit_fraction=0.3,
        latency=0.05,
        seed=7,
        account_id="111122223333",
    )


@pytest.mark.parametrize(
    "flag",
    [
        ["--error-fraction", "1.5"],
        ["--throttle-fraction", "-1"],
        ["--rate-limit", "0"],
        ["--latency", "-2"],
        ["--port", "99999"],
        ["--port", "-1"],
        ["--port", "http"],
    ],
)
def test_out_of_range_flags_are_usage_errors(flag: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a knob outside its range
    # WHEN the command line is parsed
    # THEN argparse exits with a usage error naming the flag
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["emulator", *flag])
    assert exited.value.code == 2
    assert flag[0] in capsys.readouterr().err


def run_script(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "managed-things"
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, env=cli_env(tmp_path), timeout=TIMEOUT, check=False
    )


def test_a_port_out_of_range_is_a_usage_error_not_a_traceback(tmp_path: Path) -> None:
    # GIVEN the console script
    # WHEN the emulator is asked for port 99999
    result = run_script(tmp_path, "emulator", "--port", "99999")

    # THEN argparse says the range, without a traceback
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "managed-things emulator: error: argument --port: 99999 is not between 0 and 65535"
    )


def test_an_occupied_port_is_one_line_with_what_to_do(tmp_path: Path) -> None:
    # GIVEN a port something already listens on
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        # WHEN the emulator is started on it
        result = run_script(tmp_path, "emulator", "--port", str(port))

    # THEN it exits 1 with one line that names the address and the way out
    assert result.returncode == 1
    assert result.stderr == (
        f"managed-things emulator: cannot listen on 127.0.0.1:{port}: the port is in use; "
        "pick another --port, or 0 for a free one\n"
    )
