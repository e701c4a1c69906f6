"""A fleet deployed against an emulator that throttles beyond its rate: every thing once, none left after destroy.

``managed-things deploy --rate-limit R`` rate-limits the embedded emulator; with --concurrency 4 the provider
invocations offer more than R requests a second, so some are throttled (counted here, in this process, where the
embedded emulator runs), and the provider's retries must get every Create through without a duplicate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from deploy_support import device, emulator_things, operate, run_cli, synth

from managed_things_local.emulator import faults
from managed_things_local.emulator.faults import EmulatorOptions
from managed_things_local.engine.session import SessionOptions

THINGS = 40
SHARDS = 2


def fleet(app: cdk.App) -> None:
    """Root stack Fleet: THINGS things in SHARDS nested stacks, each with its provider (as a sharded fleet is)."""
    root = cdk.Stack(app, "Fleet")
    shards = [cdk.NestedStack(root, f"Shard{shard}") for shard in range(SHARDS)]
    for index in range(THINGS):
        device(shards[index % SHARDS], f"Thing{index}", index, name=f"Sensor {index}")


@pytest.fixture
def throttled(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many requests the embedded emulator's rate limit refused (one element per refusal)."""
    refusals: list[int] = []
    take = faults.TokenBucket.take

    def counting(bucket: faults.TokenBucket) -> bool:
        taken = take(bucket)
        if not taken:
            refusals.append(1)
        return taken

    monkeypatch.setattr(faults.TokenBucket, "take", counting)
    return refusals


def test_a_fleet_beyond_the_rate_limit_creates_every_thing_once_and_destroys_them_all(
    tmp_path: Path, throttled: list[int]
) -> None:
    # GIVEN 40 things in 2 nested stacks, an emulator limited to 10 requests a second, and 4 invocations at once
    cdk_out = synth(tmp_path / "cdk.out", fleet)
    limits = SessionOptions(emulator=EmulatorOptions(rate_limit=10), concurrency=4)

    # WHEN the fleet is deployed
    run = operate(cdk_out, "deploy", options=limits)

    # THEN the offered load was throttled, yet the stack and its nested stacks are complete with every thing once
    assert not run.result.failed, run.output
    assert throttled, "the deploy never met the rate limit: the test proves nothing"
    stack = run.stack("Fleet")
    assert stack.status == "CREATE_COMPLETE"
    assert [nested.status for nested in stack.nested] == ["CREATE_COMPLETE"] * SHARDS
    names = sorted(thing["Name"] for thing in emulator_things(cdk_out).values())
    assert names == sorted(f"Sensor {index}" for index in range(THINGS))

    # WHEN it is destroyed at the same rate
    destroyed = operate(cdk_out, "destroy", options=limits)

    # THEN nothing is left
    assert not destroyed.result.failed, destroyed.output
    assert emulator_things(cdk_out) == {}


def test_a_rate_limit_for_an_external_emulator_is_refused_in_one_line(tmp_path: Path, capsys: Any) -> None:
    # GIVEN / WHEN a deploy is given --rate-limit with --endpoint-url (whose emulator has its own limit)
    run = run_cli(
        capsys, "deploy", "--cdk-out", str(tmp_path), "--endpoint-url", "http://127.0.0.1:9", "--rate-limit", "5"
    )

    # THEN it is refused before anything runs, saying how to limit that emulator
    assert run.code == 1
    assert "managed-things emulator --rate-limit R" in run.stderr
    assert "Traceback" not in run.stderr
