"""Per-event cost of the local Lambda runtime: the real provider, warm vs cold, against the embedded emulator.

  python -m benchmarks.warm_invocations [--things 500] [--concurrency 4]

Prints, for Creates of one thing each (CreateManagedThing is the handler's only API call):
  - cold: one fresh environment per event (INIT every time), wall time per event and INIT duration
  - warm: one environment, events one after the other: wall time per event, the handler's Duration
    (Lambda's REPORT), and the same CreateManagedThing made directly with the provider's client settings;
    the handler's warm overhead beyond its API call is Duration minus that call
  - fleet: ``--things`` Creates from ``--concurrency`` workers, as the engine drives them: things/s,
    per-thing wall time (target <= 1/10 of the cold start), peak RSS of the runtime's processes
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "constructs"), str(REPO / "lambda"), str(REPO / "local")]

from managed_things_local.deploy.invoker import FunctionSpec, LambdaRuntime  # noqa: E402
from managed_things_local.deploy.requests import CustomResourceRequest, RequestType  # noqa: E402
from managed_things_local.deploy.responses import ResponseReceiver  # noqa: E402
from managed_things_local.emulator.server import EmulatorServer  # noqa: E402

STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/Bench/5b918d10-b9b1-11ef-9c0e-0a8f1c2d3e4f"
TOKEN = "arn:aws:lambda:eu-west-1:123456789012:function:Bench-Provider"
LOG_NAME = "Bench.log"
_REPORT = re.compile(r"^REPORT RequestId: \S+\tDuration: ([\d.]+) ms.*?Max Memory Used: (\d+) MB", re.MULTILINE)
_INIT = re.compile(r"Init Duration: ([\d.]+) ms")


def properties(index: int) -> dict[str, str]:
    return {
        "Role": "DEVICE",
        "AuthenticationMaterialType": "ZIGBEE_QR_BAR_CODE",
        "AuthenticationMaterial": f"Z:00124B{index:010d}$I:A1B2C3D4E5F6A7B8",
        "SerialNumber": f"SN-{index:06d}",
        "Name": f"Sensor {index}",
    }


def create(index: int) -> CustomResourceRequest:
    return CustomResourceRequest(
        RequestType.CREATE,
        stack_id=STACK_ID,
        logical_id=f"Thing{index}",
        resource_type="Custom::ManagedThing",
        service_token=TOKEN,
        properties=properties(index),
    )


def timed_invocations(runtime: LambdaRuntime, function: FunctionSpec, indexes: range) -> list[float]:
    walls = []
    for index in indexes:
        start = time.perf_counter()
        outcome = runtime.invoke(function, create(index), LOG_NAME)
        walls.append(time.perf_counter() - start)
        if not outcome.succeeded:
            raise SystemExit(f"invocation failed: {outcome.reason}")
    return walls


def reported(log_dir: Path) -> tuple[list[float], list[float], list[int]]:
    """Durations, INIT durations and peak memory from the REPORT lines; the log is read, then removed."""
    path = log_dir / LOG_NAME
    text = path.read_text()
    path.unlink()
    durations = [float(match.group(1)) for match in _REPORT.finditer(text)]
    memory = [int(match.group(2)) for match in _REPORT.finditer(text)]
    return durations, [float(v) for v in _INIT.findall(text)], memory


def direct_api_calls(endpoint: str, count: int) -> list[float]:
    """CreateManagedThing made directly (warm client, the provider's settings): the API's own cost per event."""
    import boto3

    from managed_thing_provider.clients import CLIENT_CONFIG

    client = boto3.client(
        "iot-managed-integrations",
        region_name="eu-west-1",
        endpoint_url=endpoint,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=CLIENT_CONFIG,
    )
    walls = []
    for index in range(count + 1):
        values = properties(100_000 + index)
        start = time.perf_counter()
        client.create_managed_thing(ClientToken=f"{index:064d}", **values)
        walls.append(time.perf_counter() - start)
    return walls[1:]  # the first call pays for the connection


# crhelper's own answer, PUT from a process of its own as the handler does it (a new HTTPS connection each time).
_PUTS = """
import json, sys, time
from crhelper.utils import _send_response
walls = []
for url in json.loads(sys.stdin.read()):
    start = time.perf_counter()
    _send_response(url, {"Status": "SUCCESS", "PhysicalResourceId": "x", "RequestId": "bench", "Data": {}})
    walls.append(time.perf_counter() - start)
print(json.dumps(walls[1:]))
"""


def direct_answers(receiver: ResponseReceiver, code_dir: str, count: int) -> list[float]:
    """crhelper's ResponseURL PUT alone, from a process with the asset on its path: the answer's cost per event."""
    import json
    import os
    import subprocess

    urls = [receiver.expect("bench") for _ in range(count + 1)]
    environment = dict(os.environ, PYTHONPATH=code_dir, SSL_CERT_FILE=str(receiver.ca_file))
    result = subprocess.run(
        [sys.executable, "-c", _PUTS], input=json.dumps(urls), env=environment, capture_output=True, text=True
    )
    for url in urls:
        receiver.forget(url)
    return [float(v) for v in json.loads(result.stdout)]


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1e3:.1f} ms (n={len(values)})"


def fleet(
    receiver: ResponseReceiver,
    url: str,
    logs: Path,
    function: FunctionSpec,
    things: int,
    concurrency: int,
    *,
    cold: bool,
) -> float:
    """Seconds to create ``things`` from ``concurrency`` workers, the runtime's start and close included."""
    offset = 10_000 if cold else 20_000
    start = time.perf_counter()
    with LambdaRuntime(receiver, url, logs, concurrency=concurrency, cold=cold) as runtime:
        with ThreadPoolExecutor(concurrency) as workers:
            outcomes = list(
                workers.map(lambda i: runtime.invoke(function, create(offset + i), LOG_NAME), range(things))
            )
    elapsed = time.perf_counter() - start
    failed = [outcome.reason for outcome in outcomes if not outcome.succeeded]
    if failed:
        raise SystemExit(f"{len(failed)} invocations failed, the first: {failed[0]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--things", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--cold", type=int, default=5, help="cold invocations measured")
    parser.add_argument("--warm", type=int, default=50, help="sequential warm invocations measured")
    parser.add_argument("--cold-things", type=int, default=40, help="things created cold, for comparison")
    args = parser.parse_args()

    from cdk_managed_things._asset import build_asset

    with tempfile.TemporaryDirectory() as workdir:
        work = Path(workdir)
        build_asset(work / "asset")
        function = FunctionSpec(
            logical_id="Provider",
            function_name="Bench-Provider",
            arn=TOKEN,
            code_dir=str(work / "asset"),
            handler="managed_thing_provider.index.handler",
            timeout=60,
            region="eu-west-1",
        )
        logs = work / "logs"
        with EmulatorServer() as emulator, ResponseReceiver(work / "state") as receiver:
            with LambdaRuntime(receiver, emulator.url, logs, concurrency=1, cold=True) as runtime:
                cold_walls = timed_invocations(runtime, function, range(args.cold))
            _, cold_inits, _ = reported(logs)
            print(f"cold: wall per event {ms(cold_walls)}; Init Duration {ms([v / 1e3 for v in cold_inits])}")

            with LambdaRuntime(receiver, emulator.url, logs, concurrency=1) as runtime:
                timed_invocations(runtime, function, range(1000, 1001))  # INIT
                warm_walls = timed_invocations(runtime, function, range(1001, 1001 + args.warm))
            durations, _, _ = reported(logs)
            api = direct_api_calls(emulator.url, args.warm)
            answers = direct_answers(receiver, function.code_dir, args.warm)
            warm_durations = [d / 1e3 for d in durations[1:]]
            overhead = statistics.median(warm_durations) - statistics.median(api)
            own_code = overhead - statistics.median(answers)
            print(
                f"warm: wall per event {ms(warm_walls)}; handler Duration {ms(warm_durations)}; "
                f"CreateManagedThing direct {ms(api)}; handler overhead beyond its API call "
                f"{overhead * 1e3:.1f} ms (target <= 5 ms), of which crhelper's answer PUT (direct {ms(answers)}) "
                f"and {own_code * 1e3:.1f} ms the rest of the handler (crhelper, Powertools, the provider's code); "
                f"runtime overhead (wall - Duration) "
                f"{(statistics.median(warm_walls) - statistics.median(warm_durations)) * 1e3:.1f} ms"
            )

            cold_fleet = fleet(receiver, emulator.url, logs, function, args.cold_things, args.concurrency, cold=True)
            reported(logs)
            print(
                f"fleet, cold (one fresh environment per event, as before): {args.cold_things} things, concurrency "
                f"{args.concurrency}: {args.cold_things / cold_fleet:.1f} things/s, "
                f"per-thing wall {cold_fleet / args.cold_things * 1e3:.1f} ms"
            )

            elapsed = fleet(receiver, emulator.url, logs, function, args.things, args.concurrency, cold=False)
            _, _, memory = reported(logs)
            per_thing = elapsed / args.things
            cold_start = statistics.median(cold_walls)
            parent_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"fleet: {args.things} things, concurrency {args.concurrency}: {elapsed:.1f} s, "
                f"{args.things / elapsed:.1f} things/s, per-thing wall {per_thing * 1e3:.1f} ms = "
                f"{per_thing / cold_start:.3f} x the cold start (target <= 0.1); "
                f"peak RSS: this process (runtime + emulator) {parent_mb:.0f} MB + {args.concurrency} environments "
                f"x {max(memory)} MB"
            )


if __name__ == "__main__":
    main()
