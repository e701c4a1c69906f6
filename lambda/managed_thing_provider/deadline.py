"""One deadline per invocation: every AWS call fits in the time Lambda gives, answer included.

The deadline is the invocation's remaining time (``context.get_remaining_time_in_millis()``)
less a reserve for answering CloudFormation. Each attempt of each call gets connect and
read timeouts that end before the deadline, and a call is retried (throttling, 5xx,
connection errors and timeouts, as botocore's ``standard`` mode) only while another attempt
still fits. So the provider answers itself, before crhelper's timer (which fires 0.5 s before
Lambda's end and answers FAILED with no PhysicalResourceId) and before Lambda ends the process.

botocore's own retries are off in the provider's clients (one attempt per botocore call):
botocore cannot stop retrying at a deadline, and older botocore (the Lambda runtime's) cannot
change a timeout per request, so an attempt whose timeouts must be shorter than the client's
goes through a sibling client with those timeouts (cached: a handful at most).

**Throttling is retried for as long as the deadline allows** (the budget is time, not a count):
a fleet's burst is many invocations calling at once, and a throttled call that gave up after a
few attempts would fail its stack although the service had room a second later. Throttled
attempts wait with capped exponential backoff and full jitter (``uniform(0, min(cap, base *
2**n))``) starting at 50 ms, so a throttled call comes back while capacity exists, and capped at
2 s, so the offered load of many throttled invocations stays bounded. Other retryable errors
(5xx, lost connections, timeouts) keep a bounded count, ``MAX_ATTEMPTS``, with a 1 s base:
they are not a sign of contention and may have been carried out. Near the deadline the last
wait is shortened so that one more attempt still fits; an attempt is never started without
``MIN_ATTEMPT_SECONDS`` left, so the answer's reserve is never spent.

Which errors are throttling is botocore's reading (``botocore.retries.standard``: its list of
throttling codes and the service model's ``retryable`` trait, checkers that the Lambda runtime's
older botocore has too), plus HTTP 429: no hand-kept copy.

**Why not botocore's ``adaptive`` retry mode.** Its retry loop counts attempts and cannot stop
at a deadline, so botocore's retries stay off (above). Its ``ClientRateLimiter`` is a
per-client token bucket that learns the rate from that client's own calls and blocks in
``acquire`` with no deadline; but a Lambda execution environment serves one event at a time,
so the contention of a fleet is between environments, which a per-process limiter never sees
before it is throttled, and then the backoff here does the same job within the deadline.

**The rate is a setting.** No TPS quota is published for CreateManagedThing. The load a fleet
offers the API is set by the provider's reserved concurrency (how many invocations run at once;
Lambda queues the rest of CloudFormation's asynchronous invocations), and what one invocation
does when throttled by this module: it retries until its deadline (the function's timeout less
``ANSWER_RESERVE_SECONDS``), ``THROTTLE_BASE_SECONDS`` to ``THROTTLE_MAX_BACKOFF_SECONDS``
between attempts. Throttling that outlasts the deadline fails the resource with
``ThrottlingException`` (a Create with a recoverable id): lower the reserved concurrency.
"""

from __future__ import annotations

import functools
import math
import os
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    HTTPClientError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from botocore.parsers import ResponseParserError
from botocore.retries.standard import (
    ModeledRetryErrorDetector,
    RetryContext,
    ThrottledRetryableChecker,
    TransientRetryableChecker,
)

from .errors import ProviderError, redact
from .service_region import NO_SERVICE_IN_REGION, absent_service, unreachable

# Kept for answering CloudFormation: crhelper's PUT of the answer, and crhelper's own timer,
# which fires 0.5 s before Lambda's end. An answer takes well under a second.
ANSWER_RESERVE_SECONDS = 5.0
# When a context gives no remaining time (never in Lambda), the function's timeout.
DEFAULT_REMAINING_SECONDS = 120.0
CONNECT_TIMEOUT = 3
READ_TIMEOUT = 10
# Attempts of a call whose errors are not throttling (5xx, lost connections, timeouts).
MAX_ATTEMPTS = 5
# An attempt is only started with at least this long left: 1 s to connect, 1 s to read.
MIN_ATTEMPT_SECONDS = 2.0
BASE_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 8.0
# Throttled attempts: retried until the deadline, with these waits (full jitter).
THROTTLE_BASE_SECONDS = 0.05
THROTTLE_MAX_BACKOFF_SECONDS = 2.0
_sleep = time.sleep  # the wait between attempts (tests replace it)
_clock = time.monotonic  # the deadline's clock (tests make the waits advance it)

_THROTTLING_STATUS = 429
# botocore's checkers as old botocore (the Lambda runtime's) has them too: error codes, then the model's trait.
_THROTTLING_CODES = ThrottledRetryableChecker()
_TRANSIENT = TransientRetryableChecker()
_MODELED = ModeledRetryErrorDetector()


class ApiError(ProviderError):
    """A call that failed for good: its message is a safe Reason.

    ``code`` is the service's error code (or the botocore error's class name, or
    ``DeadlineReached``); ``maybe_committed`` says whether some attempt may have been
    carried out by the service without its answer reaching us (a read timeout, a closed
    connection, a 5xx), so a Create may exist; ``retryable`` whether the same request could
    still succeed (throttling, a 5xx, a lost connection, no time left), as another delivery
    of the same event may make it.
    """

    def __init__(
        self, message: str, *, code: str, maybe_committed: bool = False, operation: str = "", retryable: bool = False
    ) -> None:
        super().__init__(message)
        self.code = code
        self.maybe_committed = maybe_committed
        self.operation = operation
        self.retryable = retryable


@dataclass
class Deadline:
    """The monotonic time by which the provider stops calling AWS, to answer in time."""

    expires_at: float
    clock: Callable[[], float] = field(default_factory=lambda: _clock, repr=False)

    @classmethod
    def from_context(
        cls, context: Any, reserve: float = ANSWER_RESERVE_SECONDS, clock: Callable[[], float] | None = None
    ) -> Deadline:
        clock = clock or _clock
        remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
        remaining = remaining_ms() / 1000 if callable(remaining_ms) else DEFAULT_REMAINING_SECONDS
        return cls(clock() + remaining - reserve, clock)

    @classmethod
    def none(cls) -> Deadline:
        """No invocation to fit in (callers outside Lambda): the function's timeout."""
        return cls(_clock() + DEFAULT_REMAINING_SECONDS - ANSWER_RESERVE_SECONDS, _clock)

    def remaining(self) -> float:
        return self.expires_at - self.clock()

    def time_for_attempt(self, limit: float | None = None) -> float | None:
        """How long the next attempt may take, if one fits (``limit`` caps it further)."""
        left = self.remaining() if limit is None else min(limit, self.remaining())
        return left if left >= MIN_ATTEMPT_SECONDS else None

    def timeouts(self, limit: float | None = None) -> tuple[int, int] | None:
        """Connect and read timeouts (whole seconds) of one attempt that ends in time, if one fits."""
        left = self.time_for_attempt(limit)
        return None if left is None else _timeouts_within(left)

    def client_config(self, base: Config) -> Config:
        """A config for a client that retries by itself (Secrets Manager through Powertools)."""
        timeouts = self.timeouts() or (1, 1)
        per_attempt = sum(timeouts) + 1.0
        attempts = max(1, min(MAX_ATTEMPTS, math.floor(max(self.remaining(), 0) / per_attempt)))
        return base.merge(
            Config(
                connect_timeout=timeouts[0],
                read_timeout=timeouts[1],
                retries={"mode": "standard", "total_max_attempts": attempts},
            )
        )


def call(
    client: Any,
    operation: str,
    deadline: Deadline,
    scrub: Iterable[str] = (),
    *,
    limit: float | None = None,
    sleep: Callable[[float], None] | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Call ``operation`` (e.g. ``"CreateManagedThing"``), retrying what is retryable while time allows.

    Throttling is retried until no attempt fits before the deadline; other retryable errors at most
    ``MAX_ATTEMPTS`` attempts in all. ``limit`` caps the time this call may take (of what the
    deadline leaves). Raises :class:`ApiError` with a safe message (values in ``scrub`` redacted).
    """
    from botocore import xform_name

    wait = sleep or _sleep
    method_name = xform_name(operation)
    started = deadline.clock()

    def time_left() -> float:
        left = deadline.remaining()
        return left if limit is None else min(left, limit - (deadline.clock() - started))

    maybe_committed = False
    throttled = failed = 0
    shortened = False
    last: ApiError | None = None
    while (allowed := deadline.time_for_attempt(None if limit is None else time_left())) is not None:
        try:
            return getattr(_within(client, allowed), method_name)(**params)  # type: ignore[no-any-return]
        except ClientError as error:
            kind, unknown = _client_error_kind(error, _operation_model(client, operation))
            last = _api_error(operation, error, scrub, maybe_committed=maybe_committed or unknown)
        except (BotoCoreError, ResponseParserError) as error:
            if (absent := absent_service(client, error)) is not None:
                reason = f"{operation} failed: {absent}"
                raise ApiError(reason, code=NO_SERVICE_IN_REGION, operation=operation) from None
            kind, unknown = _botocore_error_kind(error)
            # botocore's own messages can quote parameter values: name the error class only.
            last = ApiError(
                f"{operation} failed: {type(error).__name__}",
                code=type(error).__name__,
                maybe_committed=maybe_committed or unknown,
                operation=operation,
            )
        maybe_committed = last.maybe_committed
        last.retryable = kind != _FINAL
        if kind == _THROTTLED:
            throttled += 1
            delay = backoff(throttled, THROTTLE_BASE_SECONDS, THROTTLE_MAX_BACKOFF_SECONDS)
        elif kind == _TRANSIENT_ERROR and (failed := failed + 1) < MAX_ATTEMPTS:
            delay = backoff(failed, BASE_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS)
        else:
            raise last
        room = time_left() - MIN_ATTEMPT_SECONDS
        if room < 0 or shortened:
            break
        if delay > room:  # the last wait is shortened so that one more attempt fits before the deadline
            delay, shortened = room, True
        wait(delay)
    if last is None:
        raise ApiError(
            f"{operation} not attempted: no time left before the deadline",
            code="DeadlineReached",
            operation=operation,
            retryable=True,
        )
    raise ApiError(
        f"{last} (no time left to retry before the deadline)",
        code=last.code,
        maybe_committed=last.maybe_committed,
        operation=operation,
        retryable=True,
    )


def backoff(retry: int, base: float, cap: float) -> float:
    """The wait before retry number ``retry`` (1, 2, ...): capped exponential backoff with full jitter."""
    return random.uniform(0.0, min(cap, base * 2.0 ** (retry - 1)))


# What a failed attempt was: throttled (retried until the deadline), transient (retried a few times), final.
_THROTTLED, _TRANSIENT_ERROR, _FINAL = "throttled", "transient", "final"


def _operation_model(client: Any, operation: str) -> Any:
    try:
        return client.meta.service_model.operation_model(operation)
    except Exception:  # noqa: BLE001 - an unknown operation only loses the model's retryable trait
        return None


def _client_error_kind(error: ClientError, operation_model: Any) -> tuple[str, bool]:
    """(what the attempt was, whether the service may have carried the request out)."""
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    context = RetryContext(
        attempt_number=1,
        operation_model=operation_model,
        parsed_response=error.response,
        http_response=AWSResponse(None, status, {}, None) if isinstance(status, int) else None,
    )
    modeled = _MODELED.detect_error_type(context)
    if status == _THROTTLING_STATUS or _THROTTLING_CODES.is_retryable(context) or modeled == _MODELED.THROTTLING_ERROR:
        return _THROTTLED, False
    if _TRANSIENT.is_retryable(context) or modeled is not None:
        return _TRANSIENT_ERROR, True
    return _FINAL, False


def _botocore_error_kind(error: Exception) -> tuple[str, bool]:
    if isinstance(error, ResponseParserError):
        return _FINAL, True  # something answered, not as the model says: the request may have been carried out
    if isinstance(error, ConnectTimeoutError) or unreachable(error):
        return _TRANSIENT_ERROR, False  # never reached the service (a proxy's refused tunnel sends nothing either)
    if isinstance(error, (BotoConnectionError, HTTPClientError)):
        return _TRANSIENT_ERROR, True  # e.g. ReadTimeoutError, ConnectionClosedError: sent, answer lost
    return _FINAL, False  # e.g. NoCredentialsError, ParamValidationError


def _api_error(operation: str, error: ClientError, scrub: Iterable[str], *, maybe_committed: bool) -> ApiError:
    details = error.response.get("Error", {})
    code = details.get("Code", "Error")
    message = redact(str(details.get("Message") or ""), scrub)
    text = f"{operation} failed: {code}: {message}" if message else f"{operation} failed: {code}"
    return ApiError(text, code=code, maybe_committed=maybe_committed, operation=operation)


def _timeouts_within(seconds: float) -> tuple[int, int]:
    connect = max(1, min(CONNECT_TIMEOUT, math.floor(seconds / 4)))
    read = max(1, min(READ_TIMEOUT, math.floor(seconds - connect)))
    return connect, read


def _within(client: Any, seconds: float) -> Any:
    """``client`` itself when its own timeouts fit in ``seconds``, else a sibling with shorter ones."""
    config = client.meta.config
    if config.connect_timeout + config.read_timeout <= seconds:
        return client
    connect, read = _timeouts_within(seconds)
    meta = client.meta
    service, region = meta.service_model.service_name, meta.region_name
    # The sibling resolves its endpoint as the client did. For a service with endpoint rules, meta.endpoint_url is
    # botocore's legacy hostname (....amazonaws.com), which the rules never give: passed on, it would send the
    # call elsewhere. So it is passed on only when it is not what a client given no endpoint has (then it was
    # given one explicitly); an endpoint configured in the environment reaches the sibling by itself.
    given = (
        meta.endpoint_url
        if meta.endpoint_url != _unconfigured_endpoint(service, region, *_endpoint_env(service))
        else None
    )
    return _sibling(service, region, given, config, connect, read)


def _endpoint_env(service: str) -> tuple[str | None, str | None]:
    """The environment's endpoint settings for ``service`` (botocore's AWS_ENDPOINT_URL[_<SERVICE>])."""
    specific = "AWS_ENDPOINT_URL_" + service.upper().replace("-", "_")
    return os.environ.get("AWS_ENDPOINT_URL"), os.environ.get(specific)


@functools.lru_cache(maxsize=16)
def _unconfigured_endpoint(service: str, region: str, _any: str | None, _specific: str | None) -> str:
    """``meta.endpoint_url`` of a client of ``service`` made with no endpoint (the environment's settings are in
    the cache key)."""
    import boto3

    return str(boto3.client(service, region_name=region).meta.endpoint_url)


@functools.lru_cache(maxsize=16)
def _sibling(service: str, region: str, endpoint_url: str | None, config: Config, connect: int, read: int) -> Any:
    import boto3

    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        config=config.merge(Config(connect_timeout=connect, read_timeout=read)),
    )
