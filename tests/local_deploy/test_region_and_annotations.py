"""Faithful to the CDK CLI: the region an environment-agnostic stack deploys to, and the app's annotations."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from conftest import REPO_ROOT
from deploy_support import device, operate, run_cli, stack_state, state_dir, synth
from emulator.support import make_client

from managed_things_local.cloudformation.annotations import Annotation, Level, read_annotations, report
from managed_things_local.emulator.server import EmulatorServer
from managed_things_local.environment import DEFAULT_REGION, configured_region, resolve_region

# -- the region, as the CDK CLI resolves it ------------------------------------------------------------------------


@pytest.fixture
def unconfigured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment without any region or profile setting, and empty AWS config and credentials files."""
    for variable in ("AWS_REGION", "AMAZON_REGION", "AWS_DEFAULT_REGION", "AMAZON_DEFAULT_REGION", "AWS_PROFILE",
                     "AWS_DEFAULT_PROFILE"):  # fmt: skip
        monkeypatch.delenv(variable, raising=False)
    files = {"AWS_CONFIG_FILE": tmp_path / "aws-config", "AWS_SHARED_CREDENTIALS_FILE": tmp_path / "aws-credentials"}
    for variable, path in files.items():
        path.write_text("")
        monkeypatch.setenv(variable, str(path))
    return dict(os.environ)


def write_ini(environ: dict[str, str], variable: str, text: str) -> None:
    Path(environ[variable]).write_text(text)


def test_without_any_configuration_the_region_is_the_documented_default(unconfigured: dict[str, str]) -> None:
    # GIVEN no region anywhere
    # WHEN the region of an environment-agnostic stack is resolved
    # THEN it is eu-west-1, where the service exists (not the CDK CLI's us-east-1)
    assert configured_region(unconfigured) is None
    assert resolve_region(None, unconfigured) == DEFAULT_REGION == "eu-west-1"


def test_variables_come_first_in_the_cli_order(unconfigured: dict[str, str]) -> None:
    # GIVEN a profile region and every region variable
    write_ini(unconfigured, "AWS_CONFIG_FILE", "[default]\nregion = ap-south-1\n")
    environ = {**unconfigured, "AWS_DEFAULT_REGION": "me-central-1", "AMAZON_REGION": "ca-central-1"}

    # WHEN the region is resolved, dropping one variable at a time
    # THEN AWS_REGION wins, then AMAZON_REGION, then AWS_DEFAULT_REGION; the stack's own region beats them all
    assert configured_region({**environ, "AWS_REGION": "eu-west-1"}) == "eu-west-1"
    assert configured_region(environ) == "ca-central-1"
    assert configured_region({**environ, "AMAZON_REGION": ""}) == "me-central-1"
    assert resolve_region("eu-central-1", {**environ, "AWS_REGION": "eu-west-1"}) == "eu-central-1"


def test_profile_regions_come_from_credentials_then_config_then_the_default_profile(
    unconfigured: dict[str, str],
) -> None:
    # GIVEN a "fleet" profile in both files, and a default profile
    environ = {**unconfigured, "AWS_PROFILE": "fleet"}
    config = "[default]\nregion = ap-south-1\n[profile fleet]\nregion = me-central-1\n"
    write_ini(environ, "AWS_CONFIG_FILE", config)
    write_ini(environ, "AWS_SHARED_CREDENTIALS_FILE", "[fleet]\nregion = ca-central-1\n")

    # WHEN the region is resolved, removing the settings one by one
    # THEN the profile's region in the credentials file wins (as in the CDK CLI), then the config file's,
    # then the default profile's, also when the profile is named by AWS_DEFAULT_PROFILE
    assert configured_region(environ) == "ca-central-1"
    write_ini(environ, "AWS_SHARED_CREDENTIALS_FILE", "[fleet]\naws_access_key_id = testing\n")
    assert configured_region(environ) == "me-central-1"
    assert configured_region({**unconfigured, "AWS_DEFAULT_PROFILE": "fleet"}) == "me-central-1"
    write_ini(environ, "AWS_CONFIG_FILE", "[default]\nregion = ap-south-1\n[fleet]\nregion = me-central-1\n")
    assert configured_region(environ) == "ap-south-1"  # a config-file section without "profile " is no profile


def agnostic_fleet(app: cdk.App) -> None:
    stack = cdk.Stack(app, "Agnostic")
    device(stack, "Sensor", 1, name="Sensor")


@pytest.fixture
def emulator_of(tmp_path: Path) -> Iterator[Any]:
    """Opens the embedded emulator's things (kept beside the cloud assembly) for boto3 clients."""
    servers: list[EmulatorServer] = []

    def open_emulator(cdk_out: Path) -> str:
        server = EmulatorServer(state=state_dir(cdk_out) / "emulator.sqlite")
        servers.append(server)
        return server.start()

    yield open_emulator
    for server in servers:
        server.stop()


def things_in(url: str, region: str) -> list[dict[str, Any]]:
    client = make_client(url, region=region)
    return [client.get_managed_thing(Identifier=item["Id"]) for item in client.list_managed_things()["Items"]]


@pytest.mark.parametrize("configure", ["AWS_REGION", "AWS_DEFAULT_REGION", "profile"])
def test_an_environment_agnostic_stack_deploys_to_the_configured_region(
    tmp_path: Path, unconfigured: dict[str, str], monkeypatch: pytest.MonkeyPatch, emulator_of: Any,
    configure: str,
) -> None:  # fmt: skip
    # GIVEN an environment-agnostic stack, and ca-central-1 configured as the region
    cdk_out = synth(tmp_path / "cdk.out", agnostic_fleet)
    if configure == "profile":
        write_ini(unconfigured, "AWS_CONFIG_FILE", "[profile fleet]\nregion = ca-central-1\n")
        monkeypatch.setenv("AWS_PROFILE", "fleet")
    else:
        monkeypatch.setenv(configure, "ca-central-1")

    # WHEN it is deployed locally
    run = operate(cdk_out, "deploy")

    # THEN boto3 in ca-central-1 finds the thing, with an ARN of that region, and eu-west-1 has none
    assert not run.result.failed, run.output
    monkeypatch.delenv("AWS_PROFILE", raising=False)  # the test's own boto3 session caches another config file
    url = emulator_of(cdk_out)
    [thing] = things_in(url, "ca-central-1")
    assert thing["Name"] == "Sensor"
    assert thing["Arn"].startswith("arn:aws:iotmanagedintegrations:ca-central-1:123456789012:managed-thing/")
    assert things_in(url, "eu-west-1") == []
    assert run.stack("Agnostic").region == "ca-central-1"


def test_the_emulator_keeps_unsigned_requests_in_the_default_region() -> None:
    # GIVEN the emulator's backend, asked without a region (as a raw HTTP client without SigV4 would be)
    with EmulatorServer() as server:
        # WHEN a thing is created
        created = server.backend.create_managed_thing(
            {"Role": "DEVICE", "AuthenticationMaterial": "Z:1$I:2", "AuthenticationMaterialType": "ZIGBEE_QR_BAR_CODE"}
        )

        # THEN it belongs to eu-west-1, like the local deploy's default
        assert created.thing["Arn"].startswith("arn:aws:iotmanagedintegrations:eu-west-1:")
        assert [item["Id"] for item in things_in(server.url, "eu-west-1")] == [created.thing["Id"]]


# -- annotations, as the CDK CLI prints them -----------------------------------------------------------------------

MATERIAL_WARNING_ID = "cdk-managed-things:plaintextAuthenticationMaterial"


def annotated(*, error: bool = False):  # noqa: ANN201 - a define callback
    def define(app: cdk.App) -> None:
        stack = cdk.Stack(app, "Annotated")
        sensor = device(stack, "Sensor", 1)  # plain-text material: the construct warns
        cdk.Annotations.of(sensor).add_info("sensors report every minute")
        if error:
            cdk.Annotations.of(stack).add_error("no gateway for these sensors")

    return define


def test_deploy_prints_the_apps_warnings_like_the_cdk_cli_before_deploying(tmp_path: Path, capsys: Any) -> None:
    # GIVEN a stack whose thing has plain-text authentication material (a construct warning) and an info
    cdk_out = synth(tmp_path / "cdk.out", annotated())

    # WHEN it is deployed
    run = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out))

    # THEN stderr shows each message as the CLI's block, warnings before infos, before the first resource event
    assert run.code == 0, run.stderr
    warning = run.stderr.index(f"   Acknowledge with 'Annotation::{MATERIAL_WARNING_ID}'")
    assert run.stderr.rindex("WARNING ", 0, warning) < warning
    assert "   Annotated/Sensor\n" in run.stderr
    info = run.stderr.index(
        "INFO sensors report every minute (Construct Annotations)\n"
        "   Annotated/Sensor\n"
        "   Acknowledge with 'Annotation::info-annotation'\n"
    )
    assert warning < info < run.stderr.index("CREATE_IN_PROGRESS")
    assert "[ack:" not in run.stderr and run.stdout.count("Acknowledge") == 0


def test_an_error_annotation_stops_the_deploy_in_one_line(tmp_path: Path, capsys: Any) -> None:
    # GIVEN a stack with an error annotation
    cdk_out = synth(tmp_path / "cdk.out", annotated(error=True))

    # WHEN it is deployed
    run = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out))

    # THEN the error is printed first, the deploy stops like `cdk deploy` (exit 1) and nothing is deployed
    assert run.code == 1
    assert run.stderr.startswith(
        "ERROR no gateway for these sensors (Construct Annotations)\n"
        "   Annotated\n"
        "   Rule Annotation::error-annotation\n"
    )
    assert run.stderr.rstrip().endswith("❌  Synthesis finished with errors")
    assert "CREATE_IN_PROGRESS" not in run.stderr
    assert not stack_state(cdk_out, "Annotated").exists()


def test_destroy_does_not_stop_on_error_annotations(tmp_path: Path, capsys: Any) -> None:
    # GIVEN a deployed stack, then an error annotation added to the app
    cdk_out = synth(tmp_path / "cdk.out", annotated())
    assert run_cli(capsys, "deploy", "--cdk-out", str(cdk_out)).code == 0
    synth(cdk_out, annotated(error=True))

    # WHEN it is destroyed
    run = run_cli(capsys, "destroy", "--cdk-out", str(cdk_out))

    # THEN, like `cdk destroy`, the annotations do not get in the way
    assert run.code == 0, run.stderr
    assert "Construct Annotations" not in run.stderr


def test_annotations_are_read_inline_and_from_the_additional_metadata_file(tmp_path: Path) -> None:
    # GIVEN an artifact with inline metadata (older CDK) and an additional metadata file (CDK 2.275)
    (tmp_path / "S.metadata.json").write_text(
        json.dumps({"/S/A": [{"type": "aws:cdk:warning", "data": "from the file [ack: x:y]"},
                             {"type": "aws:cdk:logicalId", "data": "A"}]})
    )  # fmt: skip
    artifact = {
        "metadata": {"/S": [{"type": "aws:cdk:error", "data": {"not": "a string"}}]},
        "additionalMetadataFile": "S.metadata.json",
    }

    # WHEN the annotations are read and reported
    annotations = read_annotations(artifact, tmp_path)

    # THEN both sources count, only messages are kept, and the error stops after everything is printed
    assert annotations == (
        Annotation(Level.ERROR, "/S", '{"not": "a string"}'),
        Annotation(Level.WARNING, "/S/A", "from the file [ack: x:y]"),
    )
    lines: list[str] = []

    class Stream:
        def write(self, text: str) -> None:
            lines.append(text)

        def flush(self) -> None:
            pass

    with pytest.raises(Exception, match="^Synthesis finished with errors$"):
        report(reversed(annotations), Stream())  # type: ignore[arg-type]
    assert "".join(lines).splitlines() == [
        'ERROR {"not": "a string"} (Construct Annotations)',
        "   S",
        "   Rule Annotation::error-annotation",
        "",
        "WARNING from the file (Construct Annotations)",
        "   S/A",
        "   Acknowledge with 'Annotation::x:y'",
    ]


CDK = REPO_ROOT / "node_modules" / ".bin" / "cdk"


@pytest.mark.skipif(not CDK.exists(), reason="the pinned CDK CLI is not installed (make setup)")
def test_the_blocks_are_the_pinned_cdk_clis_own(tmp_path: Path, capsys: Any) -> None:
    # GIVEN an app with a warning, an info and an error, as a cdk.json project
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "app.py").write_text(
        "import aws_cdk as cdk\n"
        "app = cdk.App()\n"
        "stack = cdk.Stack(app, 'Annotated')\n"
        "topic = cdk.CfnResource(stack, 'Topic', type='AWS::SNS::Topic')\n"
        "cdk.Annotations.of(topic).add_warning_v2('fleet:untested', 'the topic is untested')\n"
        "cdk.Annotations.of(topic).add_info('an info')\n"
        "cdk.Annotations.of(stack).add_error('an error')\n"
        "app.synth()\n"
    )
    (app_dir / "cdk.json").write_text(json.dumps({"app": "python3 app.py"}))
    env = {**os.environ, "CDK_DISABLE_CLI_TELEMETRY": "true", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip

    # WHEN the CDK CLI synthesizes it, and the local deploy deploys the same assembly
    cli = subprocess.run(
        [str(CDK), "synth", "--no-notices", "-q"], cwd=app_dir, env=env, capture_output=True, text=True, timeout=300
    )
    run = run_cli(capsys, "deploy", "--cdk-out", str(app_dir / "cdk.out"))

    # THEN both print the same blocks (the CLI's source-location lines aside) and stop with the same line
    assert cli.returncode == run.code == 1
    cli_lines = [line for line in cli.stderr.splitlines() if "program.js:" not in line]
    first = next(index for index, line in enumerate(cli_lines) if line.startswith("ERROR "))  # after Node's notices
    blocks = cli_lines[first : cli_lines.index("Synthesis finished with errors")]
    assert "\n".join(blocks).strip() in run.stderr
    assert "WARNING the topic is untested (Construct Annotations)" in blocks
    assert run.stderr.rstrip().endswith("Synthesis finished with errors")


def fleet_in_a_region_without_the_service(app: cdk.App) -> None:
    # The synth check refuses the region unless the app says the service runs there (as for a region added later).
    app.node.set_context("cdk-managed-things:regions", ["us-east-1"])
    stack = cdk.Stack(app, "Elsewhere", env=cdk.Environment(account="123456789012", region="us-east-1"))
    device(stack, "Sensor", 1, name="Sensor")


def test_a_stack_in_a_region_without_the_service_fails_at_once_naming_it_and_rolls_back(
    tmp_path: Path, capsys: Any
) -> None:
    # GIVEN a stack in us-east-1, where AWS IoT Managed Integrations does not run (the engine serves no host for it)
    cdk_out = synth(tmp_path / "cdk.out", fleet_in_a_region_without_the_service)

    # WHEN it is deployed locally, through the real provider
    run = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out), "--json")

    # THEN the Create fails on its first attempt (its host is asked once), naming the region and the service's
    # regions; its rollback Delete succeeds, so the stack ends ROLLBACK_COMPLETE, not ROLLBACK_FAILED
    assert run.code == 1
    stack = run.stack("Elsewhere")
    [sensor] = [r for r in stack["resources"] if r["type"] == "Custom::ManagedThing"]
    assert "CreateManagedThing failed: region us-east-1 has no AWS IoT Managed Integrations" in sensor["reason"]
    assert "(it runs in ca-central-1, eu-west-1, me-central-1)" in sensor["reason"]
    assert stack["status"] == "ROLLBACK_COMPLETE"
    assert run.document["refusedHosts"] == ["api.iotmanagedintegrations.us-east-1.api.aws"]
