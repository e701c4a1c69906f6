"""The engine's Python API: a ``Session`` builds every part a local deploy needs and returns typed reports."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest
from deploy_support import device, emulator_things, operate, stack_state, synth

from managed_things_local.engine.session import DestroyPlan, Session
from managed_things_local.errors import DeployError


def two_stacks(app: cdk.App) -> None:
    """ "Base" with a thing whose Id it exports; "Uses" imports it (so it depends on Base)."""
    base = cdk.Stack(app, "Base")
    plug = device(base, "Plug", 1, name="plug")
    cdk.CfnOutput(base, "PlugId", value=plug.managed_thing_id, export_name="Base-PlugId")
    uses = cdk.Stack(app, "Uses")
    device(uses, "Lamp", 2, name=cdk.Fn.join("-", ["lamp-of", cdk.Fn.import_value("Base-PlugId")]))


def test_a_session_deploys_through_the_real_provider_and_returns_typed_reports(tmp_path: Path) -> None:
    # GIVEN two stacks, one importing from the other
    cdk_out = synth(tmp_path / "cdk.out", two_stacks)

    # WHEN a Session deploys the one that imports
    deployed = operate(cdk_out, "deploy", "Uses")

    # THEN both are deployed, in dependency order, and the reports name the things the emulator holds
    things = emulator_things(cdk_out)
    assert [r.stack_name for r in deployed.result.reports] == ["Base", "Uses"]
    assert deployed.result.status("Base") == deployed.result.status("Uses") == "CREATE_COMPLETE"
    plug_id = deployed.resource("Base", "Plug").physical_id
    assert deployed.stack("Base").outputs == {"PlugId": plug_id}
    assert things[deployed.resource("Uses", "Lamp").physical_id]["Name"] == f"lamp-of-{plug_id}"
    assert not deployed.result.failed and deployed.result.not_started == []
    # AND what the engine said is what `managed-things deploy` prints as it goes
    assert "Uses | CREATE_COMPLETE | Custom::ManagedThing | Lamp (" in deployed.output


def test_a_destroy_shows_its_plan_first_and_a_refusal_destroys_nothing(tmp_path: Path) -> None:
    # GIVEN both stacks deployed
    cdk_out = synth(tmp_path / "cdk.out", two_stacks)
    assert not operate(cdk_out, "deploy").result.failed
    plans: list[DestroyPlan] = []

    def refuse(plan: DestroyPlan) -> bool:
        plans.append(plan)
        return False

    # WHEN Base is destroyed, and the confirmation refuses
    refused = operate(cdk_out, "destroy", "Base", confirm=refuse)

    # THEN the plan named Base, took Uses with it (it depends on Base), and nothing was destroyed
    assert (plans[0].named, plans[0].order, plans[0].dependents) == (["Base"], ["Uses", "Base"], ["Uses"])
    assert refused.result.reports == [] and len(emulator_things(cdk_out)) == 2

    # WHEN it is destroyed without a confirmation
    destroyed = operate(cdk_out, "destroy", "Base")

    # THEN both stacks are deleted, dependents first, and nothing is left
    assert [(r.stack_name, r.status) for r in destroyed.result.reports] == [
        ("Uses", "DELETE_COMPLETE"),
        ("Base", "DELETE_COMPLETE"),
    ]
    assert emulator_things(cdk_out) == {} and not stack_state(cdk_out, "Base").exists()


def test_operations_need_an_open_session_but_diff_and_checks_do_not(tmp_path: Path) -> None:
    # GIVEN a Session that is not open
    cdk_out = synth(tmp_path / "cdk.out", two_stacks)
    session = Session(cdk_out)

    # WHEN it deploys, THEN it says to open it, and started nothing
    with pytest.raises(RuntimeError, match="not open: use it in a `with` block"):
        session.deploy()
    # AND diff and the quota checks run without anything started
    assert [d.stack_name for d in session.diff()] == ["Base", "Uses"]
    session.check_deploy()
    with pytest.raises(DeployError, match="No stack matches 'Nope'"):
        session.check_deploy(["Nope"])
    assert not (tmp_path / ".managed-things").exists()
