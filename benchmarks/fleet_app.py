"""The benchmarks' CDK app: COUNT things in one stack, or spread over NESTED nested stacks; run as a script.

    python benchmarks/fleet_app.py OUTDIR COUNT [--nested N] [--raw]

Synthesizes into OUTDIR and prints the seconds spent building the constructs and synthesizing, imports
excluded (the whole process, jsii's start-up included, is the caller's to time). ``--raw`` declares raw
``CfnResource``s with the same values instead of ``ManagedThing``s: the floor the synth benchmark compares
with. Needs ``constructs`` on the path.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir")
    parser.add_argument("count", type=int)
    parser.add_argument("--nested", type=int, default=0, help="nested stacks to spread the things over (0: none)")
    parser.add_argument("--raw", action="store_true", help="raw CfnResources instead of ManagedThings")
    args = parser.parse_args()

    import aws_cdk as cdk

    from cdk_managed_things import ManagedThing

    start = time.perf_counter()
    app = cdk.App(outdir=args.outdir)
    stack = cdk.Stack(app, STACK_NAME)
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
