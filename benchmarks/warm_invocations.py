"""Invoke the provider's handler once per event in this one process, like a warm Lambda environment; run as a script.

    python warm_invocations.py EVENTS.json RESULTS.json

Run with the asset first on the path and Lambda's environment (the endpoint of an emulator, the CA of the
ResponseURL's server). The handler is imported once; each event's wall time is split into the time inside
the API calls (botocore's ``provide-client-params`` to ``after-call`` on the provider's client), the time crhelper
spends answering on the ResponseURL, and the rest. Lives outside the package: only the asset is importable here.
"""

from __future__ import annotations

import http.client
import json
import ssl
import sys
import time
import uuid
from typing import Any


class Stopwatch:
    """Sums the time between ``start`` and ``stop`` calls, which do not nest; usable as botocore hooks."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self.count = 0
        self._started = 0.0

    def start(self, **_: Any) -> None:
        self._started = time.perf_counter()

    def stop(self, **_: Any) -> None:
        self.elapsed += time.perf_counter() - self._started
        self.count += 1

    def reset(self) -> None:
        self.elapsed, self.count = 0.0, 0


class LambdaContext:
    """The members of Lambda's context object crhelper and Powertools read."""

    def __init__(self, timeout: float = 120.0) -> None:
        self.function_name = "bench"
        self.function_version = "$LATEST"
        self.invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench"
        self.memory_limit_in_mb = "256"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = "/aws/lambda/bench"
        self.log_stream_name = "bench"
        self._deadline = time.time() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def time_calls(owner: Any, name: str) -> Stopwatch:
    """Replace ``owner.name`` by a wrapper that times its calls; the stopwatch they add up in."""
    original = getattr(owner, name)
    stopwatch = Stopwatch()

    def timed(*args: Any, **kwargs: Any) -> Any:
        stopwatch.start()
        try:
            return original(*args, **kwargs)
        finally:
            stopwatch.stop()

    setattr(owner, name, timed)
    return stopwatch


def main() -> None:
    events_file, results_file = sys.argv[1], sys.argv[2]
    with open(events_file, encoding="utf-8") as file:
        events = json.load(file)

    started = time.perf_counter()
    from managed_thing_provider import index

    import_seconds = time.perf_counter() - started
    api = Stopwatch()
    # The whole boto3 call: from its parameters (validation, endpoint, serialization) to its parsed answer.
    index.client.meta.events.register("provide-client-params", api.start)
    index.client.meta.events.register("after-call", api.stop)
    index.client.meta.events.register("after-call-error", api.stop)
    answer = time_calls(index.helper, "_send")  # crhelper's answer: building the body, TLS, the PUT
    # Within the answer: the SSL context crhelper makes for it, and its connection (TCP, then the TLS handshake).
    tls_context = time_calls(ssl, "create_default_context")
    connection = time_calls(http.client.HTTPSConnection, "connect")
    results = []
    for event in events:
        for stopwatch in (api, answer, tls_context, connection):
            stopwatch.reset()
        context = LambdaContext()
        start = time.perf_counter()
        index.handler(event, context)
        total = time.perf_counter() - start
        results.append(
            {
                "total": total,
                "api": api.elapsed,
                "apiCalls": api.count,
                "answer": answer.elapsed,
                "tlsContext": tls_context.elapsed,
                "connect": connection.elapsed,
            }
        )
    with open(results_file, "w", encoding="utf-8") as file:
        json.dump({"import": import_seconds, "events": results}, file)


if __name__ == "__main__":
    main()
