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
"""

from __future__ import annotations

import functools
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from botocore.parsers import ResponseParserError

from .errors import ProviderError, redact

# Kept for answering CloudFormation: crhelper's PUT of the answer, and crhelper's own timer,
# which fires 0.5 s before Lambda's end. An answer takes well under a second.
ANSWER_RESERVE_SECONDS = 5.0
# When a context gives no remaining time (never in Lambda), the function's timeout.
DEFAULT_REMAINING_SECONDS = 120.0
CONNECT_TIMEOUT = 3
READ_TIMEOUT = 10
MAX_ATTEMPTS = 5
# An attempt is only started with at least this long left: 1 s to connect, 1 s to read.
MIN_ATTEMPT_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 8.0
_sleep = time.sleep  # the wait between attempts (tests replace it)

_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
    }
)
_TRANSIENT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"})
_TRANSIENT_STATUS = frozenset({500, 502, 503, 504})


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
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    @classmethod
    def from_context(
        cls, context: Any, reserve: float = ANSWER_RESERVE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> Deadline:
        remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
        remaining = remaining_ms() / 1000 if callable(remaining_ms) else DEFAULT_REMAINING_SECONDS
        return cls(clock() + remaining - reserve, clock)

    @classmethod
    def none(cls) -> Deadline:
        """No invocation to fit in (callers outside Lambda): the function's timeout."""
        return cls(time.monotonic() + DEFAULT_REMAINING_SECONDS - ANSWER_RESERVE_SECONDS)

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

    ``limit`` caps the time this call may take (of what the deadline leaves).
    Raises :class:`ApiError` with a safe message (values in ``scrub`` redacted).
    """
    from botocore import xform_name

    wait = sleep or _sleep
    method_name = xform_name(operation)
    started = deadline.clock()
    maybe_committed = False
    last: ApiError | None = None
    for attempt in range(1, MAX_ATTEMPTS + 1):
        budget = None if limit is None else limit - (deadline.clock() - started)
        allowed = deadline.time_for_attempt(budget)
        if allowed is None:
            break
        try:
            return getattr(_within(client, allowed), method_name)(**params)  # type: ignore[no-any-return]
        except ClientError as error:
            retryable, unknown = _client_error_kind(error)
            last = _api_error(operation, error, scrub, maybe_committed=maybe_committed or unknown)
        except (BotoCoreError, ResponseParserError) as error:
            retryable, unknown = _botocore_error_kind(error)
            # botocore's own messages can quote parameter values: name the error class only.
            last = ApiError(
                f"{operation} failed: {type(error).__name__}",
                code=type(error).__name__,
                maybe_committed=maybe_committed or unknown,
                operation=operation,
            )
        maybe_committed = last.maybe_committed
        last.retryable = retryable
        if not retryable or attempt == MAX_ATTEMPTS:
            raise last
        delay = random.uniform(0, min(MAX_BACKOFF_SECONDS, 2.0 ** (attempt - 1)))
        left = deadline.remaining()
        if limit is not None:
            left = min(left, limit - (deadline.clock() - started))
        if left - delay < MIN_ATTEMPT_SECONDS:
            break
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


def _client_error_kind(error: ClientError) -> tuple[bool, bool]:
    """(retryable, the service may have carried the request out)."""
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in _THROTTLING_CODES:
        return True, False
    if status in _TRANSIENT_STATUS or code in _TRANSIENT_CODES:
        return True, True
    return False, False


def _botocore_error_kind(error: Exception) -> tuple[bool, bool]:
    if isinstance(error, ResponseParserError):
        return False, True  # something answered, not as the model says: the request may have been carried out
    if isinstance(error, (ConnectTimeoutError, EndpointConnectionError)):
        return True, False  # never reached the service
    if isinstance(error, (BotoConnectionError, HTTPClientError)):
        return True, True  # e.g. ReadTimeoutError, ConnectionClosedError: sent, answer lost
    return False, False  # e.g. NoCredentialsError, ParamValidationError


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
    return _sibling(meta.service_model.service_name, meta.region_name, meta.endpoint_url, config, connect, read)


@functools.lru_cache(maxsize=16)
def _sibling(service: str, region: str, endpoint_url: str, config: Config, connect: int, read: int) -> Any:
    import boto3

    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        config=config.merge(Config(connect_timeout=connect, read_timeout=read)),
    )
