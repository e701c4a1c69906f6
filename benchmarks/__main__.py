"""Print the performance budget's figures: asset size, handler cold init, synth of a large stack.

Targets (issue "ManagedThing construct and its crhelper provider"):
  - Lambda asset <= 1.2 MB zipped
  - handler cold init (fresh process: import, crhelper set-up, client) <= 250 ms
  - synth of 450 ManagedThings <= 1.2 x synth of 450 raw CfnResources with the same values
Timings are medians of several fresh processes; run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAMBDA_ENV = {
    "AWS_REGION": "eu-west-1",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_EC2_METADATA_DISABLED": "true",
}

COLD_INIT = textwrap.dedent(
    """
    import time
    start = time.perf_counter()
    import managed_thing_provider.index
    print(time.perf_counter() - start)
    """
)

# The floor: what any crhelper + Powertools provider pays, with none of this project's code.
COLD_INIT_FLOOR = textwrap.dedent(
    """
    import time
    start = time.perf_counter()
    from aws_lambda_powertools import Logger
    from crhelper import CfnResource
    Logger(service="floor")
    CfnResource(log_level="INFO", sleep_on_delete=0)
    print(time.perf_counter() - start)
    """
)

SYNTH = textwrap.dedent(
    """
    import sys, tempfile, time
    import aws_cdk as cdk
    from cdk_managed_things import ManagedThing
    kind, count = sys.argv[1], int(sys.argv[2])

    def values(index):
        return dict(
            Role="DEVICE",
            AuthenticationMaterial=f"Z:00124B{index:010d}$I:A1B2C3D4E5F6A7B8",
            AuthenticationMaterialType="ZIGBEE_QR_BAR_CODE",
            SerialNumber=f"SN-{index:06d}",
            Name=f"Sensor {index}",
            MetaData={"floor": str(index % 5)},
        )

    start = time.perf_counter()
    app = cdk.App(outdir=tempfile.mkdtemp())
    stack = cdk.Stack(app, "Fleet")
    for index in range(count):
        v = values(index)
        if kind == "raw":
            cdk.CfnResource(stack, f"Thing{index}", type="AWS::IoTManagedIntegrations::ManagedThing", properties=v)
        else:
            ManagedThing(stack, f"Thing{index}", role=v["Role"], authentication_material=v["AuthenticationMaterial"],
                         authentication_material_type=v["AuthenticationMaterialType"], serial_number=v["SerialNumber"],
                         name=v["Name"], meta_data=v["MetaData"])
    app.synth()
    print(time.perf_counter() - start)
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--things", type=int, default=450, help="ManagedThings in the synth benchmark")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per synth measurement")
    parser.add_argument("--init-repeat", type=int, default=9, help="fresh processes per cold-init measurement")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as workdir:
        asset_dir = Path(workdir) / "asset"
        sys.path[:0] = [str(REPO / root) for root in ("constructs", "lambda", "model")]
        from cdk_managed_things._asset import build_asset

        build_asset(asset_dir)
        total, model = _zipped_size(asset_dir), _zipped_size(asset_dir / "managed_things_model" / "botocore_data")
        print(f"asset: {total / 1e6:.2f} MB zipped (service model {model / 1e3:.0f} KB); target <= 1.2 MB")

        samples: dict[str, list[float]] = {"handler": [], "floor": []}
        for _ in range(args.init_repeat):
            for kind, code in (("handler", COLD_INIT), ("floor", COLD_INIT_FLOOR)):
                samples[kind].append(_run_python(code, env=LAMBDA_ENV, path=[asset_dir], cwd=asset_dir))
        handler, floor = samples["handler"], samples["floor"]
        print(
            f"handler cold init: median {statistics.median(handler) * 1e3:.0f} ms "
            f"(min {min(handler) * 1e3:.0f}, max {max(handler) * 1e3:.0f}, n={len(handler)}); target <= 250 ms; "
            f"crhelper + Powertools alone: median {statistics.median(floor) * 1e3:.0f} ms"
        )

    timings: dict[str, dict[str, list[float]]] = {kind: {"app": [], "process": []} for kind in ("raw", "construct")}
    for _ in range(args.repeat):  # alternate, so drift in machine load hits both alike
        for kind, figures in timings.items():
            start = time.perf_counter()
            figures["app"].append(_run_python(SYNTH, kind, str(args.things)))
            figures["process"].append(time.perf_counter() - start)
    for scope, meaning in (("app", "constructs + app.synth()"), ("process", "whole process, as `cdk synth` runs it")):
        ours, raw = (statistics.median(timings[kind][scope]) for kind in ("construct", "raw"))
        print(
            f"synth of {args.things} ({meaning}): ManagedThing median {ours:.2f} s, "
            f"raw CfnResource median {raw:.2f} s, ratio {ours / raw:.2f}; target <= 1.20"
        )


def _zipped_size(directory: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.tell()


def _run_python(
    code: str, *argv: str, env: dict[str, str] | None = None, path: list[Path] | None = None, cwd: Path | None = None
) -> float:
    environment = dict(os.environ, **(env or {}))
    pythonpath = [str(p) for p in (path or [])] or [str(REPO / root) for root in ("constructs", "lambda", "model")]
    environment["PYTHONPATH"] = os.pathsep.join(pythonpath)
    result = subprocess.run(
        [sys.executable, "-c", code, *argv],
        env=environment,
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
