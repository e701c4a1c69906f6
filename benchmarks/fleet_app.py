"""The benchmarks' CDK app: COUNT things in one stack, or spread over NESTED nested stacks; run as a script.

    python benchmarks/fleet_app.py OUTDIR COUNT [--nested N | --fleet] [--raw]

Synthesizes into OUTDIR and prints the seconds spent building the constructs and synthesizing, imports
excluded (the whole process, jsii's start-up included, is the caller's to time). ``--raw`` declares raw
``CfnResource``s with the same values instead of ``ManagedThing``s: the floor the synth benchmark compares
with. ``--fleet`` builds the things as one ``ManagedThingFleet`` (rows keyed by SerialNumber); with ``--raw``,
raw resources in the same nested stacks under the same logical ids, laid out by the fleet's own shard
function. Needs ``constructs`` on the path.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

STACK_NAME = "Fleet"


def thing_values(index: int) -> dict[str, Any]:
    """The API members of thing ``index``: required ones, a few optional ones, all distinct per thing."""
    return {
        "Role": "DEVICE",
        "AuthenticationMaterial": f"Z:00124B{index:010d}$I:A1B2C3D4E5F6A7B8",
        "AuthenticationMaterialType": "ZIGBEE_QR_BAR_CODE",
        "SerialNumber": f"SN-{index:06d}",
        "Name": f"Sensor {index}",
        "MetaData": {"floor": str(index % 5)},
    }


def shard_of(index: int, count: int, shards: int) -> int:
    """Which of ``shards`` nested stacks thing ``index`` of ``count`` lives in: contiguous, near-equal blocks."""
    return index * shards // count


def build_fleet(stack: Any, count: int, *, raw: bool) -> None:
    """``count`` rows as a ``ManagedThingFleet``, or as raw resources where the fleet would put its things."""
    import aws_cdk as cdk

    from cdk_managed_things import ManagedThingFleet
    from cdk_managed_things._sharding import SHARDS, shard_id, thing_logical_id
    from cdk_managed_things._sharding import shard_of as fleet_shard_of
    from constructs import Construct

    rows = [thing_values(index) for index in range(count)]
    if not raw:
        ManagedThingFleet(stack, "Plugs", inventory=rows, key="SerialNumber")
        return
    fleet = Construct(stack, "Plugs")
    by_shard: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_shard.setdefault(fleet_shard_of(row["SerialNumber"], SHARDS), []).append(row)
    for shard, shard_rows in sorted(by_shard.items()):
        nested = cdk.NestedStack(fleet, shard_id(shard))
        for row in sorted(shard_rows, key=lambda row: row["SerialNumber"]):
            logical_id = thing_logical_id(row["SerialNumber"], sensitive=True)
            cdk.CfnResource(nested, logical_id, type="AWS::IoTManagedIntegrations::ManagedThing", properties=row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir")
    parser.add_argument("count", type=int)
    parser.add_argument("--nested", type=int, default=0, help="nested stacks to spread the things over (0: none)")
    parser.add_argument("--raw", action="store_true", help="raw CfnResources instead of ManagedThings")
    parser.add_argument("--fleet", action="store_true", help="one ManagedThingFleet, or (--raw) its layout")
    args = parser.parse_args()

    import aws_cdk as cdk

    from cdk_managed_things import ManagedThing

    start = time.perf_counter()
    app = cdk.App(outdir=args.outdir)
    stack = cdk.Stack(app, STACK_NAME)
    if args.fleet:
        build_fleet(stack, args.count, raw=args.raw)
        app.synth()
        print(time.perf_counter() - start)
        return
    scopes: list[Any] = [stack]
    if args.nested:
        scopes = [cdk.NestedStack(stack, f"Shard{shard}") for shard in range(args.nested)]
    for index in range(args.count):
        scope = scopes[shard_of(index, args.count, len(scopes))]
        values = thing_values(index)
        if args.raw:
            cdk.CfnResource(scope, f"Thing{index}", type="AWS::IoTManagedIntegrations::ManagedThing", properties=values)
        else:
            ManagedThing(
                scope,
                f"Thing{index}",
                role=values["Role"],
                authentication_material=values["AuthenticationMaterial"],
                authentication_material_type=values["AuthenticationMaterialType"],
                serial_number=values["SerialNumber"],
                name=values["Name"],
                meta_data=values["MetaData"],
            )
    app.synth()
    print(time.perf_counter() - start)


if __name__ == "__main__":
    main()
