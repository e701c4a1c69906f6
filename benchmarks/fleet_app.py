"""The benchmarks' CDK app: COUNT things in one stack, in NESTED nested stacks, or as a fleet; run as a script.

    python benchmarks/fleet_app.py OUTDIR COUNT [--nested N] [--raw]
    python benchmarks/fleet_app.py OUTDIR COUNT --fleet (--placement FILE | --raw)

Synthesizes into OUTDIR and prints the seconds spent building the constructs and synthesizing, imports
excluded (the whole process, jsii's start-up included, is the caller's to time). ``--raw`` declares raw
``CfnResource``s with the same values instead of ``ManagedThing``s: the floor the synth benchmark compares
with. ``--fleet`` builds the things as one ``ManagedThingFleet`` (rows keyed by SerialNumber) in shard stacks,
placed through the placement file FILE (a missing file: placed from scratch); with ``--raw``, raw
``Custom::ManagedThing`` resources in the shard stacks a fresh placement gives, under the same names and logical
ids, each shard stack with the library's provider. Needs ``constructs`` on the path.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

STACK_NAME = "Fleet"
FLEET_ID = "Plugs"
# SerialNumber: a sensitive member, so logical ids carry only its digest.
FLEET_KEY = "SerialNumber"


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


def build_fleet(stack: Any, count: int, *, raw: bool, placement: str | None = None) -> None:
    """``count`` rows as a ``ManagedThingFleet`` placed through the file ``placement``, or as raw resources
    where a fresh placement puts the fleet's things: the same shard stacks, logical ids and providers."""
    from cdk_managed_things import ManagedThingFleet

    rows = [thing_values(index) for index in range(count)]
    if not raw:
        if placement is None:
            raise SystemExit("fleet_app.py: --fleet needs --placement FILE (or --raw)")
        ManagedThingFleet(stack, FLEET_ID, inventory=rows, key=FLEET_KEY, placement=placement)
        return
    build_raw_shards(stack, rows)


def build_raw_shards(stack: Any, rows: list[dict[str, Any]]) -> None:
    """Raw ``CfnResource``s with the rows' values, in the shard stacks a fresh placement gives the fleet.

    Rows in key order, ``THINGS_PER_STACK`` to a shard (in logical id order there); each shard stack built as
    the fleet builds it (name, description, the library's own provider); each thing under the fleet's logical
    id, with the fleet's ``ServiceToken`` and ``ServiceTimeout``. (Placement also caps a shard's template bytes:
    these rows are far below it, and the benchmark checks that both sides' templates are the same.)
    """
    import aws_cdk as cdk

    from cdk_managed_things._placement import shard_name
    from cdk_managed_things._provider import SERVICE_TIMEOUT_SECONDS, ManagedThingProvider
    from cdk_managed_things._sharding import thing_logical_id
    from cdk_managed_things.fleet import THINGS_PER_STACK
    from constructs import Construct
    from managed_things_model.contract import RESOURCE_TYPE

    fleet = Construct(stack, FLEET_ID)
    in_key_order = sorted(rows, key=lambda row: row[FLEET_KEY])
    shards = [in_key_order[start : start + THINGS_PER_STACK] for start in range(0, len(rows), THINGS_PER_STACK)]
    for number, members in enumerate(shards, start=1):
        name = shard_name(number)
        shard = cdk.Stack(
            fleet,
            name,
            stack_name=f"{STACK_NAME}-{FLEET_ID}-{name}",
            description=f"cdk-managed-things: {name} of the fleet {fleet.node.path}",
        )
        provider = ManagedThingProvider.of(shard)
        provider.serve_with_service_timeout(int(SERVICE_TIMEOUT_SECONDS))
        common = {"ServiceToken": provider.service_token, "ServiceTimeout": SERVICE_TIMEOUT_SECONDS}
        things = sorted((thing_logical_id(row[FLEET_KEY], sensitive=True), row) for row in members)
        for logical_id, row in things:
            cdk.CfnResource(shard, logical_id, type=RESOURCE_TYPE, properties={**common, **row})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir")
    parser.add_argument("count", type=int)
    parser.add_argument("--nested", type=int, default=0, help="nested stacks to spread the things over (0: none)")
    parser.add_argument("--raw", action="store_true", help="raw CfnResources instead of ManagedThings")
    parser.add_argument("--fleet", action="store_true", help="one ManagedThingFleet, or (--raw) its layout")
    parser.add_argument("--placement", metavar="FILE", help="the fleet's placement file (--fleet without --raw)")
    args = parser.parse_args()

    import aws_cdk as cdk

    from cdk_managed_things import ManagedThing

    start = time.perf_counter()
    app = cdk.App(outdir=args.outdir)
    stack = cdk.Stack(app, STACK_NAME)
    if args.fleet:
        build_fleet(stack, args.count, raw=args.raw, placement=args.placement)
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
