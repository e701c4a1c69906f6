"""The handler's warm per-event overhead: what it, crhelper and Powertools add to an event beyond its API calls.

One long-lived process imports the provider from its Lambda asset once and handles N Create events, each with
its own ResponseURL on a local ``ResponseReceiver``, against an emulator in this process with its things in
SQLite, as the local deploy embeds it (``warm_invocations.py`` is that long-lived process). Per event, the time
inside the API calls (boto3's whole call, from botocore's hooks) is subtracted; the first event, which still
pays lazy set-up (the first connection, the first TLS context), is reported apart.

Target (issue 6): warm per-event overhead beyond the API calls <= 5 ms (median).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from .fleet_app import thing_values
from .report import LAMBDA_ENV, BenchmarkError, verdict

WARM_OVERHEAD_TARGET = 0.005
WORKER = Path(__file__).resolve().parent / "warm_invocations.py"
STACK_ID = f"arn:aws:cloudformation:eu-west-1:123456789012:stack/Bench/{uuid.uuid4()}"
SERVICE_TOKEN = "arn:aws:lambda:eu-west-1:123456789012:function:bench"


def create_event(index: int, response_url: str, request_id: str) -> dict[str, Any]:
    """CloudFormation's Create event for the benchmark fleet's thing ``index`` (every scalar a string)."""
    return {
        "RequestType": "Create",
        "ServiceToken": SERVICE_TOKEN,
        "ResponseURL": response_url,
        "StackId": STACK_ID,
        "RequestId": request_id,
        "LogicalResourceId": f"Thing{index}",
        "ResourceType": "Custom::ManagedThing",
        "ResourceProperties": {"ServiceToken": SERVICE_TOKEN, "ServiceTimeout": "300", **thing_values(index)},
    }


def measure(asset_dir: Path, events: int) -> None:
    """Print the warm per-event figures of ``events`` Create events (at least 2: the first is set apart)."""
    from managed_things_local.emulator.server import EmulatorServer
    from managed_things_local.lambda_runtime.variables import trusted_ca_variables
    from managed_things_local.services.responses import ResponseReceiver

    with (
        tempfile.TemporaryDirectory() as workdir,
        EmulatorServer(state=Path(workdir) / "emulator.sqlite") as emulator,  # as the deploy embeds it
        ResponseReceiver(Path(workdir)) as receiver,
    ):
        request_ids = [str(uuid.uuid4()) for _ in range(max(2, events))]
        urls = [receiver.expect(request_id) for request_id in request_ids]
        documents = [create_event(i, url, rid) for i, (url, rid) in enumerate(zip(urls, request_ids, strict=True))]
        events_file, results_file = Path(workdir) / "events.json", Path(workdir) / "results.json"
        events_file.write_text(json.dumps(documents), encoding="utf-8")
        environment = dict(
            os.environ,
            **LAMBDA_ENV,
            PYTHONPATH=str(asset_dir),
            PYTHONNOUSERSITE="1",
            AWS_ENDPOINT_URL=emulator.url,
            AWS_ENDPOINT_URL_IOT_MANAGED_INTEGRATIONS=emulator.url,
            **trusted_ca_variables(receiver.ca_file),
        )
        with open(Path(workdir) / "handler.log", "w+b") as logs:  # Powertools' JSON lines, as Lambda would collect
            completed = subprocess.run(
                [sys.executable, str(WORKER), str(events_file), str(results_file)],
                cwd=asset_dir,
                env=environment,
                stdout=logs,
                stderr=subprocess.STDOUT,
                check=False,
            )
            if completed.returncode != 0:
                logs.seek(0)
                last = (logs.read().decode(errors="replace").strip().splitlines() or ["no output"])[-1]
                raise BenchmarkError(f"the warm handler process failed: {last}")
        failed = [url for url in urls if (a := receiver.answer(url)) is None or not a.succeeded]
        if failed:
            answer = receiver.answer(failed[0])
            reason = answer.reason if answer else "no answer on the ResponseURL"
            raise BenchmarkError(f"warm handler: {len(failed)} of {len(urls)} events did not succeed: {reason}")
        results = json.loads(results_file.read_text(encoding="utf-8"))
    _print(results["events"])


def _print(results: list[dict[str, Any]]) -> None:
    first, warm = results[0], results[1:]
    overheads = sorted(r["total"] - r["api"] for r in warm)
    overhead, p90 = statistics.median(overheads), overheads[min(len(overheads) - 1, int(len(overheads) * 0.9))]
    answer = statistics.median(r["answer"] for r in warm)
    tls_context, connect = (statistics.median(r[part] for r in warm) for part in ("tlsContext", "connect"))
    put = statistics.median(r["answer"] - r["tlsContext"] - r["connect"] for r in warm)
    rest = statistics.median(r["total"] - r["api"] - r["answer"] for r in warm)
    print(
        f"warm handler, {len(results)} Create events in one process (embedded emulator, local ResponseURL):\n"
        f"  per event: median {statistics.median(r['total'] for r in warm) * 1e3:.1f} ms, of which "
        f"{statistics.median(r['api'] for r in warm) * 1e3:.1f} ms in "
        f"{statistics.median(r['apiCalls'] for r in warm):.0f} API call(s); first event {first['total'] * 1e3:.0f} ms\n"
        f"  overhead beyond the API calls: median {overhead * 1e3:.1f} ms (p90 {p90 * 1e3:.1f}); "
        f"target <= {WARM_OVERHEAD_TARGET * 1e3:.0f} ms: {verdict(overhead, WARM_OVERHEAD_TARGET)}\n"
        f"    of it, crhelper's answer on the ResponseURL median {answer * 1e3:.1f} ms (its SSL context "
        f"{tls_context * 1e3:.1f}, TCP connection and TLS handshake {connect * 1e3:.1f}, the PUT and the rest "
        f"{put * 1e3:.1f}); the rest (the handler, crhelper, Powertools) median {rest * 1e3:.1f} ms"
    )
