"""Several stacks (ordered by what they import), a running emulator, and the app command synthesized like cdk."""

from __future__ import annotations

import io
import shlex
import sys
import textwrap
from pathlib import Path

import aws_cdk as cdk
from deploy_support import device, emulator_things, operate, run_cli, stack_state, state_dir, synth

from managed_things_local.emulator.server import EmulatorServer
from managed_things_local.engine.session import SessionOptions


def two_stacks(app: cdk.App) -> None:
    # The consumer comes first in the app and imports by name: only Fn::ImportValue orders the stacks.
    consumer = cdk.Stack(app, "Consumer")
    device(consumer, "Lamp", 2, name="Lamp", meta_data={"hub": cdk.Fn.import_value("Producer-HubId")})
    producer = cdk.Stack(app, "Producer")
    hub = device(producer, "Hub", 1, role="CONTROLLER", name="Hub")
    cdk.CfnOutput(producer, "HubId", value=hub.managed_thing_id, export_name="Producer-HubId")


class Terminal(io.StringIO):
    """A stdin someone types into."""

    def isatty(self) -> bool:
        return True


def test_an_imported_value_is_deployed_after_its_exporter_and_destroyed_before_it(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    # GIVEN an app whose first stack imports the second stack's export, and a running emulator
    cdk_out = synth(tmp_path / "cdk.out", two_stacks)
    with EmulatorServer() as emulator:
        # WHEN every stack is deployed against it
        run = operate(cdk_out, "deploy", options=SessionOptions(endpoint_url=emulator.url))

        # THEN the producer went first and the consumer's thing carries the producer's hub Id
        assert not run.result.failed, run.output
        assert [report.stack_name for report in run.result.reports] == ["Producer", "Consumer"]
        things = {t["Name"]: t for t in emulator.backend.list_things()}
        assert things["Lamp"]["MetaData"] == {"hub": things["Hub"]["Id"]}
        assert run.stack("Producer").exports == {"Producer-HubId": things["Hub"]["Id"]}
        # AND the embedded emulator was not used
        assert not (state_dir(cdk_out) / "emulator.sqlite").exists()

        # WHEN the producer drops the export its importer uses
        def without_export(app: cdk.App) -> None:
            two_stacks(app)
            producer = app.node.find_child("Producer")
            producer.node.try_remove_child("HubId")

        synth(cdk_out, without_export)
        refused = run_cli(capsys, "deploy", "Producer", "--cdk-out", str(cdk_out), "--endpoint-url", emulator.url)

        # THEN the update is refused and rolled back, like CloudFormation's
        assert refused.code == 1
        assert "Cannot delete export Producer-HubId as it is in use by Consumer" in refused.stderr
        assert "Producer | UPDATE_ROLLBACK_COMPLETE" in refused.stderr
        assert len(emulator.backend.list_things()) == 2

        # WHEN only the producer is destroyed, with no terminal to confirm that its importer goes too
        endpoint = ("--cdk-out", str(cdk_out), "--endpoint-url", emulator.url)
        unconfirmed = run_cli(capsys, "destroy", "Producer", *endpoint)
        # THEN it is refused in one line naming both ways on, and nothing is deleted
        assert unconfirmed.code == 1
        assert unconfirmed.stderr.strip().splitlines()[-1].strip() == (
            "❌  Destroying Producer also destroys Consumer, which depends on it, and there is no terminal to "
            "confirm: pass --force to destroy them all, or --exclusively to destroy only the named stacks"
        )
        assert "Consumer | will delete 1 resource: Lamp" in unconfirmed.stderr
        assert len(emulator.backend.list_things()) == 2

        # WHEN only the producer is destroyed exclusively, THEN CloudFormation's refusal: its export is in use
        exclusive = run_cli(capsys, "destroy", "Producer", "--exclusively", *endpoint)
        assert exclusive.code == 1
        assert "Export Producer-HubId cannot be deleted as it is in use by Consumer" in exclusive.stdout
        assert len(emulator.backend.list_things()) == 2

        # WHEN asked on a terminal and answered no, THEN nothing is destroyed
        monkeypatch.setattr("sys.stdin", Terminal("n\n"))
        declined = run_cli(capsys, "destroy", "Producer", *endpoint)
        assert declined.code == 0 and "Are you sure you want to delete: Consumer, Producer (y/n)?" in declined.stderr
        assert len(emulator.backend.list_things()) == 2

        # WHEN answered yes
        monkeypatch.setattr("sys.stdin", Terminal("y\n"))
        destroyed = run_cli(capsys, "destroy", "Producer", *endpoint)

        # THEN its importer goes first (CloudFormation would refuse to delete an export in use), then it
        assert destroyed.code == 0, destroyed.stderr
        assert destroyed.stderr.index("Consumer | DELETE_COMPLETE | AWS::CloudFormation::Stack") < (
            destroyed.stderr.index("Producer | DELETE_IN_PROGRESS | AWS::CloudFormation::Stack")
        )
        assert emulator.backend.list_things() == []
        assert not stack_state(cdk_out, "Consumer").exists() and not stack_state(cdk_out, "Producer").exists()

        # WHEN destroyed again, THEN there is nothing to destroy, and it says so
        nothing = run_cli(capsys, "destroy", *endpoint)
        assert nothing.code == 0 and "nothing to destroy" in nothing.stderr


def test_an_import_of_a_value_the_model_rejects_fails_the_importer(tmp_path: Path, capsys) -> None:
    # GIVEN a producer exporting a plain value that is no valid Name (it contains '!')
    def define(app: cdk.App) -> None:
        producer = cdk.Stack(app, "Labels")
        cdk.CfnOutput(producer, "Label", value="not valid!", export_name="Labels-Label")
        consumer = cdk.Stack(app, "Labelled")
        device(consumer, "Good", 1, name="Good")
        device(consumer, "Named", 2, name=cdk.Fn.import_value("Labels-Label"))
        consumer.add_dependency(producer)

    cdk_out = synth(tmp_path / "cdk.out", define)

    # WHEN both are deployed
    run = operate(cdk_out, "deploy")

    # THEN the producer stands, the consumer rolls back without a thing left, naming the resource
    assert run.result.failed
    assert run.stack("Labels").status == "CREATE_COMPLETE"
    consumer = run.stack("Labelled")
    assert consumer.status == "ROLLBACK_COMPLETE"
    assert consumer.failed_resource.startswith("Named") and "Name" in consumer.error
    assert emulator_things(cdk_out) == {}


APP = """
import aws_cdk as cdk
from cdk_managed_things import AuthenticationMaterialType, ManagedThing, Role

app = cdk.App()
stack = cdk.Stack(app, "FromApp")
thing = ManagedThing(
    stack,
    "Sensor",
    role=Role.DEVICE,
    authentication_material_type=AuthenticationMaterialType.ZIGBEE_QR_BAR_CODE,
    authentication_material="Z:00124B0000000001$I:A1B2C3D4E5F6A7B8",
    name="From the app",
)
cdk.CfnOutput(stack, "SensorId", value=thing.managed_thing_id)
app.synth()
"""


def test_the_app_command_is_synthesized_like_the_cdk_cli_does(tmp_path: Path, capsys, monkeypatch) -> None:
    # GIVEN a CDK app in its own directory
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    monkeypatch.chdir(tmp_path)
    app = f"{shlex.quote(sys.executable)} app.py"

    # WHEN it is deployed with --app
    run = run_cli(capsys, "deploy", "--app", app)

    # THEN it was synthesized into ./cdk.out (asset metadata included) and deployed from there
    assert run.code == 0, run.stderr
    cdk_out = tmp_path / "cdk.out"
    assert (cdk_out / "manifest.json").is_file()
    (thing,) = emulator_things(cdk_out).values()
    assert thing["Name"] == "From the app"
    assert f"FromApp.SensorId = {thing['Id']}" in run.stdout
    assert "FromApp | CREATE_COMPLETE | Custom::ManagedThing | Sensor (" in run.stderr

    # WHEN it is destroyed the same way
    destroyed = run_cli(capsys, "destroy", "--app", app)

    # THEN the thing is gone
    assert destroyed.code == 0, destroyed.stderr
    assert emulator_things(cdk_out) == {}
