"""The CLI's messages: one line that says what to do, checked before synth where it can be, never a traceback."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from conftest import REPO_ROOT
from deploy_support import Run, device, run_cli, synth

import managed_things_local.cli.deploy_cli as deploy_cli
from managed_things_local.cli import EXIT_INTERRUPTED, build_parser
from managed_things_local.engine.synthesis import app_environment

SCRIPT = Path(sys.executable).parent / "managed-things"


def one_line_error(run: Run) -> str:
    """The run's error: it failed with exit code 1 and printed one error line, and no traceback."""
    assert run.code == 1, run
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    return lines[0]


@pytest.fixture
def app_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A CDK app directory (the cwd) whose app only leaves a marker: it shows whether synth ran."""
    (tmp_path / "cdk.json").write_text('{"app": "touch synthesized"}')
    monkeypatch.chdir(tmp_path)
    return tmp_path


def synth_ran(app_dir: Path) -> bool:
    return (app_dir / "synthesized").exists()


# -- the state directory --------------------------------------------------------------------------------------------


def test_a_file_where_the_state_directory_goes_is_one_line_before_synth(app_dir: Path, capsys: Any) -> None:
    # GIVEN a file named .managed-things beside cdk.out
    (app_dir / ".managed-things").write_text("not a directory")

    # WHEN the app is deployed
    run = run_cli(capsys, "deploy")

    # THEN one line names the path and what to do, and the app was not synthesized
    line = one_line_error(run)
    assert f"{app_dir / '.managed-things'} is not a directory" in line
    assert "move the file away" in line
    assert not synth_ran(app_dir)


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """Make ``directory`` unwritable: chmod for a normal user, chattr +i where tests run as root."""
    directory.chmod(stat.S_IRUSR | stat.S_IXUSR)
    immutable = False
    try:
        if os.access(directory, os.W_OK):
            chattr = subprocess.run(["chattr", "+i", str(directory)], capture_output=True, check=False)
            immutable = chattr.returncode == 0
            if not immutable:
                pytest.skip("cannot make a directory read-only here (root without chattr)")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(directory)], check=True)
        directory.chmod(stat.S_IRWXU)


def test_a_read_only_state_directory_is_one_line_before_synth(app_dir: Path, capsys: Any) -> None:
    # GIVEN a .managed-things directory that takes no new files
    state = app_dir / ".managed-things"
    state.mkdir()

    with read_only(state):
        # WHEN the app is deployed, and destroyed
        runs = [run_cli(capsys, command) for command in ("deploy", "destroy")]

    # THEN each says in one line which directory and how to fix it, before any synth
    for run in runs:
        line = one_line_error(run)
        assert f"Cannot write to {state}" in line
        assert "make it writable" in line
    assert not synth_ran(app_dir)


# -- --endpoint-url ---------------------------------------------------------------------------------------------


def test_an_endpoint_url_without_a_scheme_is_one_line_before_synth(app_dir: Path, capsys: Any) -> None:
    # GIVEN nothing deployed
    # WHEN a deploy and a destroy name the endpoint without http://
    runs = [run_cli(capsys, command, "--endpoint-url", "127.0.0.1:8765") for command in ("deploy", "destroy")]

    # THEN each says what a URL looks like, without synthesizing or warning about things to delete
    for run in runs:
        assert one_line_error(run).endswith("--endpoint-url 127.0.0.1:8765: expected a URL like http://127.0.0.1:8765")
        assert "delet" not in run.stderr.lower()
    assert not synth_ran(app_dir)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_endpoint_url_where_no_emulator_listens_is_one_line_with_the_fix(app_dir: Path, capsys: Any) -> None:
    # GIVEN a port nothing listens on
    url = f"http://127.0.0.1:{free_port()}"

    # WHEN the app is deployed against it
    run = run_cli(capsys, "deploy", "--endpoint-url", url)

    # THEN one line names the URL and how to start an emulator there, and synth did not run
    line = one_line_error(run)
    assert f"No emulator answers at {url}" in line
    assert f"`managed-things emulator --port {url.rsplit(':', 1)[1]}`" in line
    assert not synth_ran(app_dir)


# -- arguments ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["--concurrency", "--stack-concurrency"])
@pytest.mark.parametrize("command", ["deploy", "destroy"])
@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_concurrency_below_one_is_refused(capsys: Any, command: str, option: str, value: str) -> None:
    # GIVEN a concurrency (of resources, or of stacks) that is not a whole number of at least 1
    # WHEN the command line is parsed
    with pytest.raises(SystemExit) as exited:
        run_cli(capsys, command, option, value)

    # THEN argparse refuses it, naming the option
    assert exited.value.code == 2
    assert f"argument {option}:" in capsys.readouterr().err


def test_version_is_the_installed_distributions() -> None:
    # GIVEN the installed console script
    # WHEN it is asked for its version
    result = subprocess.run([str(SCRIPT), "--version"], capture_output=True, text=True, timeout=60, check=False)

    # THEN it prints the distribution's version from its metadata
    from importlib.metadata import version

    assert result.returncode == 0
    assert result.stdout == f"managed-things {version('cdk-managed-things')}\n"


# -- start-up -------------------------------------------------------------------------------------------------------

# Runs the CLI in a fresh interpreter, then prints its exit code and which of the heavy modules it imported.
IMPORTS_OF = """
import json, sys
from managed_things_local.cli import main
try:
    code = main(sys.argv[2:])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "imported": [m for m in json.loads(sys.argv[1]) if m in sys.modules]}))
"""
# What the deploy itself needs: the engine, the Lambda runtime, the embedded emulator, and the libraries they use.
HEAVY_MODULES = [
    "managed_things_local.engine.engine",
    "managed_things_local.lambda_runtime.invoker",
    "managed_things_local.engine.stack_run",
    "managed_things_local.emulator.server",
    "managed_things_local.emulator.cli",
    "botocore",
    "boto3",
    "trustme",
    "cryptography",
]


@pytest.mark.parametrize(
    "argv",
    [
        ["--version"],
        ["--help"],
        ["deploy", "--help"],
        ["deploy", "--cdk-out", "cdk.out", "--endpoint-url", "127.0.0.1:8765"],
        ["destroy", "--endpoint-url", "http://127.0.0.1:1"],
    ],
    ids=["version", "help", "deploy-help", "deploy-preflight-error", "destroy-preflight-error"],
)
def test_version_help_and_preflight_errors_answer_without_loading_the_engine(tmp_path: Path, argv: list[str]) -> None:
    # GIVEN a directory with nothing to deploy
    (tmp_path / "cdk.json").write_text('{"app": "touch synthesized"}')

    # WHEN the CLI is asked for its version, its help, or to deploy with a mistake the checks before synth find
    result = subprocess.run(
        [sys.executable, "-c", IMPORTS_OF, json.dumps(HEAVY_MODULES), *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # THEN it answers (0, or 1 with its one line) without importing the engine or what the engine runs on
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome == {"code": 1 if argv[0] in ("deploy", "destroy") and "--help" not in argv else 0, "imported": []}
    assert not (tmp_path / "synthesized").exists()


def test_help_lists_every_command_the_same_whichever_command_is_built_in_full() -> None:
    # GIVEN the parser built in full, and as it is built for `--help` and for one command
    full = build_parser().format_help()

    # WHEN each prints the top-level help
    # THEN they list the same commands with the same lines
    assert build_parser(["--help"]).format_help() == full
    assert build_parser(["emulator", "--port", "0"]).format_help() == full
    assert build_parser(["diff"]).format_help() == full
    assert all(f"    {name}" in full for name in ("emulator", "deploy", "destroy", "diff"))


# -- the last resort ------------------------------------------------------------------------------------------------


def test_an_unexpected_error_is_one_line_with_where_the_details_are(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a bug deep inside the deploy
    def broken(_source: Any) -> Any:
        raise RuntimeError("the assembly exploded\nsecond line")

    monkeypatch.setattr(deploy_cli, "load_assembly", broken)
    cdk_out = synth(tmp_path / "cdk.out", lambda app: None)

    # WHEN the deploy runs into it
    run = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out))

    # THEN one line says what happened and where the traceback is
    line = one_line_error(run)
    assert line.startswith("managed-things: error: RuntimeError: the assembly exploded (details: ")
    details = Path(line.rsplit("(details: ", 1)[1].rstrip(")"))
    assert "Traceback" in details.read_text() and "second line" in details.read_text()
    details.unlink()


def test_ctrl_c_is_one_line_and_exit_130(capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a command interrupted by Ctrl-C outside the deploy's own handling
    def interrupted(_args: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(deploy_cli, "run", interrupted)

    # WHEN it runs
    run = run_cli(capsys, "deploy")

    # THEN it prints one line and exits 130, like a shell reports SIGINT
    assert (run.code, run.stderr) == (EXIT_INTERRUPTED, "managed-things: interrupted\n")


# -- outside make ---------------------------------------------------------------------------------------------------


def test_the_app_runs_with_this_interpreter_first_on_path_and_without_jsiis_node_banner() -> None:
    # GIVEN an environment without the venv on PATH, and one where the user chose a jsii setting
    bin_dir = str(Path(sys.executable).parent)
    bare = {"PATH": "/usr/bin:/bin"}
    chosen = {"PATH": f"/usr/bin:{bin_dir}", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "18"}

    # WHEN the app's environment is built from each
    # THEN this interpreter's bin directory comes first, once, and the user's own setting wins
    assert app_environment(bare)["PATH"] == f"{bin_dir}:/usr/bin:/bin"
    assert app_environment(chosen)["PATH"] == f"{bin_dir}:/usr/bin"
    assert app_environment(bare)["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] == "20"
    assert app_environment(bare)["JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION"] == "1"
    assert app_environment(chosen)["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] == "18"


def test_the_venvs_script_deploys_and_destroys_without_activation(tmp_path: Path) -> None:
    # GIVEN a CDK app whose cdk.json says `python3 app.py`, and a PATH without the venv (nor jsii settings)
    (tmp_path / "app.py").write_text(
        "import aws_cdk as cdk\n"
        "from cdk_managed_things import AuthenticationMaterialType, ManagedThing, Role\n"
        "app = cdk.App()\n"
        "stack = cdk.Stack(app, 'Outside')\n"
        "ManagedThing(stack, 'Sensor', role=Role.DEVICE, name='Sensor',\n"
        "             authentication_material_type=AuthenticationMaterialType.ZIGBEE_QR_BAR_CODE,\n"
        "             authentication_material='Z:00124B0000000001$I:A1B2C3D4E5F6A7B8')\n"
        "app.synth()\n"
    )
    (tmp_path / "cdk.json").write_text('{"app": "python3 app.py"}')
    node_dir = Path(subprocess.run(["which", "node"], capture_output=True, text=True, check=True).stdout).parent
    env = {key: value for key, value in without_jsii_settings().items() if key != "VIRTUAL_ENV"}
    env["PATH"] = os.pathsep.join(dict.fromkeys([str(node_dir).strip(), "/usr/bin", "/bin"]))

    # WHEN .venv/bin/managed-things deploys and then destroys it
    runs = [
        subprocess.run([str(SCRIPT), command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        for command in ("deploy", "destroy")
    ]

    # THEN both succeed, and jsii's Node banner is nowhere in the output
    for result in runs:
        assert result.returncode == 0, result.stderr
        assert "!!" not in result.stderr and "b'" not in result.stderr
    assert "CREATE_COMPLETE" in runs[0].stderr


def without_jsii_settings() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("JSII_")}


def test_the_example_app_keeps_jsiis_banner_out_of_cdk_synth(tmp_path: Path) -> None:
    # GIVEN the example app, and an environment without jsii's settings (as `npx cdk synth` outside make runs it)
    env = {**without_jsii_settings(), "CDK_OUTDIR": str(tmp_path / "cdk.out")}

    # WHEN it synthesizes
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )

    # THEN it wrote the assembly, and no Node.js support box
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cdk.out" / "manifest.json").is_file()
    assert "!!" not in result.stderr and "end-of-life" not in result.stderr


def test_rollback_with_force_and_orphan_is_one_line_before_synth(app_dir: Path, capsys: Any) -> None:
    # WHEN `rollback --force --orphan A`, THEN the CDK CLI's refusal, before the app is synthesized
    error = one_line_error(run_cli(capsys, "rollback", "--force", "--orphan", "A"))
    assert error.endswith("Cannot combine --force with --orphan")
    assert not (app_dir / "synthesized").exists()


def test_rollback_and_retain_resources_exit_codes_and_messages(tmp_path: Path, capsys: Any) -> None:
    # GIVEN a deployed stack (stable)
    cdk_out = synth(tmp_path / "cdk.out", lambda app: device(cdk.Stack(app, "Plugs"), "Plug", 1))
    assert run_cli(capsys, "deploy", "--cdk-out", str(cdk_out)).code == 0
    # WHEN rolled back, THEN like `cdk rollback` it warns that the stack needs none, and succeeds
    run = run_cli(capsys, "rollback", "--cdk-out", str(cdk_out))
    assert run.code == 0, run.stderr
    assert "Stack Plugs does not need a rollback: CREATE_COMPLETE" in run.stdout + run.stderr
    # WHEN destroyed retaining a resource of a stack not in DELETE_FAILED, THEN one line, and nothing is deleted
    resources = json.loads((cdk_out / "Plugs.template.json").read_text())["Resources"]
    [logical_id] = [k for k, v in resources.items() if v["Type"] == "Custom::ManagedThing"]
    run = run_cli(capsys, "destroy", "--cdk-out", str(cdk_out), "--retain-resources", logical_id)
    assert "--retain-resources applies only to a stack in DELETE_FAILED state" in one_line_error(run)
    assert run_cli(capsys, "destroy", "--cdk-out", str(cdk_out)).code == 0
