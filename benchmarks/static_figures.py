"""The figures that need no deploy: the Lambda asset's size, the handler's cold init, synth of a large stack.

Targets (issue "ManagedThing construct and its crhelper provider"):
  - Lambda asset <= 1.2 MB zipped
  - handler cold init (fresh process: import, crhelper set-up, client) <= 250 ms
  - synth of N ManagedThings <= 1.2 x synth of N raw CfnResources with the same values
"""

from __future__ import annotations

import io
import statistics
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

from .report import LAMBDA_ENV, run_python, synthesize_fleet, verdict

ASSET_TARGET_MB = 1.2
COLD_INIT_TARGET = 0.250
SYNTH_RATIO_TARGET = 1.2

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


def build_asset(directory: Path) -> Path:
    """The provider's Lambda asset, built as the construct builds it at synth."""
    from cdk_managed_things._asset import build_asset as build

    build(directory)
    return directory


def print_asset_size(asset_dir: Path) -> None:
    total, model = _zipped_size(asset_dir), _zipped_size(asset_dir / "managed_things_model" / "botocore_data")
    print(
        f"asset: {total / 1e6:.2f} MB zipped (service model {model / 1e3:.0f} KB); "
        f"target <= {ASSET_TARGET_MB} MB: {verdict(total / 1e6, ASSET_TARGET_MB)}"
    )


def measure_cold_init(asset_dir: Path, repeat: int) -> float:
    """Print the handler's cold init (median of ``repeat`` fresh processes) beside the floor; return the median."""
    samples: dict[str, list[float]] = {"handler": [], "floor": []}
    for _ in range(repeat):  # alternate, so drift in machine load hits both alike
        for kind, code in (("handler", COLD_INIT), ("floor", COLD_INIT_FLOOR)):
            samples[kind].append(run_python(code, env=LAMBDA_ENV, path=[asset_dir], cwd=asset_dir))
    handler, floor = samples["handler"], samples["floor"]
    median = statistics.median(handler)
    print(
        f"handler cold init: median {median * 1e3:.0f} ms "
        f"(min {min(handler) * 1e3:.0f}, max {max(handler) * 1e3:.0f}, n={len(handler)}); "
        f"target <= {COLD_INIT_TARGET * 1e3:.0f} ms: {verdict(median, COLD_INIT_TARGET)}; "
        f"crhelper + Powertools alone: median {statistics.median(floor) * 1e3:.0f} ms"
    )
    return median


def print_synth_ratio(things: int, repeat: int) -> None:
    timings: dict[str, dict[str, list[float]]] = {kind: {"app": [], "process": []} for kind in ("raw", "construct")}
    for _ in range(repeat):  # alternate, so drift in machine load hits both alike
        for kind, figures in timings.items():
            with tempfile.TemporaryDirectory() as outdir:
                start = time.perf_counter()
                figures["app"].append(synthesize_fleet(Path(outdir) / "cdk.out", things, raw=kind == "raw"))
                figures["process"].append(time.perf_counter() - start)
    for scope, meaning in (("app", "constructs + app.synth()"), ("process", "whole process, as `cdk synth` runs it")):
        ours, raw = (statistics.median(timings[kind][scope]) for kind in ("construct", "raw"))
        print(
            f"synth of {things} ({meaning}): ManagedThing median {ours:.2f} s, "
            f"raw CfnResource median {raw:.2f} s, ratio {ours / raw:.2f}; "
            f"target <= {SYNTH_RATIO_TARGET:.2f}: {verdict(ours / raw, SYNTH_RATIO_TARGET)}"
        )


def _zipped_size(directory: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.tell()
