"""Proof: Creates whose outcome the provider never learns (a commit answered by a failure, then an outage; a first
delivery throttled out while a second one succeeds) leave nothing behind once CloudFormation has rolled back."""

from __future__ import annotations

import threading
from pathlib import Path

from proof_app import STACK, copy_base, thing_properties
from proof_support import harness, live_things, write_template

from managed_thing_provider.deadline import MAX_ATTEMPTS
from managed_things_local.emulator.exceptions import ServiceUnavailableException
from managed_things_local.emulator.faults import EmulatorOptions, FaultInjector


class UnavailableFirst(FaultInjector):
    """The first ``count`` requests are answered 503 before anything is done; the rest are served.

    (Not throttling: the provider retries that until its deadline, but a 5xx only ``MAX_ATTEMPTS`` times.)
    """

    def __init__(self, count: int) -> None:
        super().__init__(EmulatorOptions())
        self._left = count
        self._guard = threading.Lock()

    def before_request(self) -> None:
        with self._guard:
            if self._left > 0:
                self._left -= 1
                raise ServiceUnavailableException("The service is unavailable. Please try again.")


class CommitThenUnavailable(UnavailableFirst):
    """Once armed: the next Create commits and answers 500, then the next ``outage`` requests answer 503."""

    def __init__(self, outage: int) -> None:
        super().__init__(0)
        self.armed = False
        self.outage = outage

    def after_commit(self):  # type: ignore[no-untyped-def]
        with self._guard:
            if not self.armed:
                return None
            self.armed, self._left = False, self.outage
        return super().after_commit() or ServiceUnavailableException("The service is unavailable.")


def test_a_replacement_whose_create_outcome_stays_unknown_leaves_no_orphan(tmp_path: Path, proof_base: Path) -> None:
    cdk_out, base = copy_base(proof_base, tmp_path)
    with harness(cdk_out, concurrency=1) as h:
        faults = CommitThenUnavailable(outage=4)  # the 4 retries of the Create all fail
        h.server.responses.faults = faults
        write_template(cdk_out, STACK, base, {"Plug": {"Properties": thing_properties(1, Name="plug")}})
        assert h.deploy().status(STACK) == "CREATE_COMPLETE"
        (original,) = live_things(h.server)
        # WHEN a new material replaces the thing, and the service commits the replacement but never says so
        faults.armed = True
        write_template(cdk_out, STACK, base, {"Plug": {"Properties": thing_properties(2, Name="plug")}})
        status = h.deploy().status(STACK)
        # THEN the update fails and rolls back in place, keeping the original thing...
        assert status == "UPDATE_ROLLBACK_COMPLETE", h.outputs[-1]
        assert h.store.load(STACK).resources["Plug"].physical_id == original  # type: ignore[union-attr]
        # ...and the committed replacement is gone: the rollback found it by the token the old thing carried
        h.assert_converged()


def test_a_create_delivered_twice_whose_first_delivery_failed_leaves_no_orphan(
    tmp_path: Path, proof_base: Path
) -> None:
    # GIVEN a service unavailable on every attempt of the first delivery of a Create (it answers FAILED)
    cdk_out, base = copy_base(proof_base, tmp_path)
    with harness(cdk_out, concurrency=1) as h:
        h.server.responses.faults = UnavailableFirst(MAX_ATTEMPTS)
        # WHEN the Create is delivered a second time (at-least-once), and that delivery is served
        h.runtime.duplicate = lambda request: str(request.request_type) == "Create"
        write_template(cdk_out, STACK, base, {"Plug": {"Properties": thing_properties(1, Name="plug")}})
        status = h.deploy().status(STACK)
        # THEN CloudFormation took the first answer and rolled back; the thing the duplicate made is deleted too
        assert status == "ROLLBACK_COMPLETE", h.outputs[-1]
        assert [(d.how, d.succeeded) for d in h.runtime.deliveries if d.request_type == "Create"] == [
            ("once", False),
            ("duplicate", True),
        ]
        h.assert_converged()
