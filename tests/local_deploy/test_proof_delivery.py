"""Proof, part 1b: at-least-once delivery through the real provider. Every request delivered twice, or the handler
killed once the service carried out its first change and the same event delivered again: the things stay exactly
what the state records."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from proof_app import STACK, copy_base, thing_properties
from proof_support import FAULTS, Harness, harness, live_things, write_template

from managed_things_local.emulator.faults import EmulatorOptions


def lifecycle(h: Harness, base: dict[str, Any]) -> None:
    """Create, update in place, replace, remove, a failed update rolled back, destroy: converged after each."""
    cdk_out = h.cdk_out

    def deploy(things: dict[str, Any], expected: str = "COMPLETE", recover: dict[str, Any] | None = None) -> bool:
        """Whether it ended as expected (else a plain redeploy recovered it)."""
        write_template(cdk_out, STACK, base, things)
        status = h.deploy().status(STACK)
        if status.endswith("_FAILED"):
            # the faulty emulator failed a call five times over (a rollback's, say): recovered as on AWS, then a
            # plain redeploy
            h.assert_converged(allow_failed=True)
            h.recover(STACK, status)
            write_template(cdk_out, STACK, base, recover or things)
            assert h.deploy().status(STACK).endswith("COMPLETE"), h.outputs[-1]
            h.assert_converged()
            return False
        assert status.endswith(expected), h.outputs[-1]
        h.assert_converged()
        return True

    hub = {"Properties": thing_properties(1, role="CONTROLLER", Name="hub")}
    plug = {"Properties": thing_properties(2, Name="plug", Tags={"room": "hall"})}
    deploy({"Hub": hub, "Plug": plug})
    ids = set(live_things(h.server))
    deploy({"Hub": hub, "Plug": {"Properties": thing_properties(2, Name="plug-2", Brand="acme")}})  # in place
    assert set(live_things(h.server)) == ids
    hub = {"Properties": thing_properties(3, role="CONTROLLER", Name="hub")}
    deploy({"Hub": hub, "Plug": plug})  # Hub replaced (new material)
    assert len(live_things(h.server)) == 2 and set(live_things(h.server)) != ids
    before = set(live_things(h.server))
    bad = {"Properties": thing_properties(9, Name="bad!name"), "DependsOn": ["Hub", "Plug"]}
    failing = {"Hub": {"Properties": thing_properties(4, role="DEVICE", Name="hub")}, "Plug": plug, "Bad": bad}
    # Hub replaced (role and material), then the whole update rolled back: the same things as before
    if deploy(failing, expected="UPDATE_ROLLBACK_COMPLETE", recover={"Hub": hub, "Plug": plug}):
        assert set(live_things(h.server)) == before
    deploy({"Plug": plug})  # Hub removed
    assert len(live_things(h.server)) == 1
    assert h.destroy().status(STACK) == "DELETE_COMPLETE"
    h.assert_converged()
    assert live_things(h.server) == {}


CHOICES: dict[str, tuple[Callable[[Any], bool], Callable[[Any], bool]]] = {
    "every request twice": (lambda request: True, lambda request: False),
    "every request killed after its first change, then delivered again": (
        lambda request: False,
        lambda request: True,
    ),
}


@pytest.mark.parametrize("delivery", list(CHOICES))
def test_at_least_once_delivery_converges(tmp_path: Path, proof_base: Path, delivery: str) -> None:
    cdk_out, base = copy_base(proof_base, tmp_path)
    duplicate, kill = CHOICES[delivery]
    with harness(cdk_out, EmulatorOptions(), concurrency=1) as h:
        h.runtime.duplicate, h.runtime.kill = duplicate, kill
        lifecycle(h, base)
        hows = {(d.request_type, d.how) for d in h.runtime.deliveries}
    if kill(None):
        # every kind of request was killed mid-way at least once, and its redelivery answered
        assert {("Create", "killed"), ("Update", "killed"), ("Delete", "killed")} <= hows, hows
        assert {("Create", "redelivered"), ("Update", "redelivered"), ("Delete", "redelivered")} <= hows, hows
    else:
        assert {("Create", "duplicate"), ("Update", "duplicate"), ("Delete", "duplicate")} <= hows, hows


def test_duplicates_and_kills_under_emulator_faults_converge(tmp_path: Path, proof_base: Path) -> None:
    # every other request delivered twice, every third killed and delivered again, the emulator misbehaving
    cdk_out, base = copy_base(proof_base, tmp_path)
    with harness(cdk_out, FAULTS, concurrency=1) as h:
        h.runtime.duplicate = lambda request: int(request.request_id[-4:], 16) % 2 == 0
        h.runtime.kill = lambda request: int(request.request_id[-4:], 16) % 3 == 0
        lifecycle(h, base)
