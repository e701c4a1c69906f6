"""UPDATE_ROLLBACK_FAILED through the real provider on the local engine: the service fails a rollback Update, a
deploy is then refused with CloudFormation's message, and `rollback` (ContinueUpdateRollback) restores the thing
in place: the provider, asking DescribeStacks, sees the rollback in progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from proof_app import STACK, copy_base, thing_properties
from proof_support import harness, live_things, set_faults, write_template

from managed_things_local.emulator.faults import EmulatorOptions

# Plug's forward Update: a rename in place (with a failing sibling), or a new material (a replacement) with a name
# the provider rejects before any call. The latter's rollback Update restores the old material: only a provider that
# sees the rollback in progress (DescribeStacks: UPDATE_ROLLBACK_IN_PROGRESS) does it in place.
CHANGES: dict[str, tuple[dict[str, Any], dict[str, Any], list[str]]] = {
    "renamed in place, a sibling failing": (
        {"Properties": thing_properties(2, Name="plug-renamed")},
        {"Bad": {"Properties": thing_properties(9, Name="bad!name"), "DependsOn": ["Hub", "Plug"]}},
        ["hub", "plug-renamed"],
    ),
    "a new material with a rejected name": ({"Properties": thing_properties(3, Name="bad!name")}, {}, ["hub", "plug"]),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_rollback_the_service_failed_is_refused_by_deploy_and_continued_by_rollback(
    tmp_path: Path, proof_base: Path, change: str
) -> None:
    cdk_out, base = copy_base(proof_base, tmp_path)
    with harness(cdk_out) as h:
        # GIVEN a deployed Hub and Plug
        hub = {"Properties": thing_properties(1, role="CONTROLLER", Name="hub")}
        plug = {"Properties": thing_properties(2, Name="plug")}
        write_template(cdk_out, STACK, base, {"Hub": hub, "Plug": plug})
        assert h.deploy().status(STACK) == "CREATE_COMPLETE"
        before = {thing_id: thing["Name"] for thing_id, thing in live_things(h.server).items()}
        # WHEN Plug's update fails (or a sibling does), and the service fails every call from Plug's rollback Update
        # on (an outage)
        changed, siblings, names_left = CHANGES[change]
        write_template(cdk_out, STACK, base, {"Hub": hub, "Plug": changed, **siblings})
        updates: list[str] = []

        def outage_at_the_rollback_update(request) -> bool:
            if str(request.request_type) == "Update" and request.logical_id == "Plug":
                updates.append(request.logical_id)
                if len(updates) == 2:
                    set_faults(h.server, EmulatorOptions(error_fraction=1.0))
            return False

        h.runtime.kill = outage_at_the_rollback_update
        try:
            status = h.deploy().status(STACK)
        finally:
            h.runtime.kill = lambda request: False
            set_faults(h.server)
        # THEN the stack is UPDATE_ROLLBACK_FAILED, Plug as the forward Update left it
        assert status == "UPDATE_ROLLBACK_FAILED", h.outputs[-1]
        assert sorted(t["Name"] for t in live_things(h.server).values()) == names_left
        # AND a deploy is refused with CloudFormation's message, sending nothing
        write_template(cdk_out, STACK, base, {"Hub": hub, "Plug": plug})
        [refused] = h.deploy().reports
        assert refused.status == "UPDATE_ROLLBACK_FAILED"
        assert refused.error.startswith(f"Stack:{refused.stack_id} is in UPDATE_ROLLBACK_FAILED state and can not")
        # WHEN its rollback is continued, the service behaving again
        assert h.rollback().status(STACK) == "UPDATE_ROLLBACK_COMPLETE", h.outputs[-1]
        # THEN Plug is restored in place (the same things, no replacement), and the state is converged
        assert {thing_id: thing["Name"] for thing_id, thing in live_things(h.server).items()} == before
        h.assert_converged()
        # AND the stack deploys again, and destroy leaves nothing
        assert h.deploy().status(STACK) in ("UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")
        h.assert_converged()
        assert h.destroy().status(STACK) == "DELETE_COMPLETE"
        assert live_things(h.server) == {}
