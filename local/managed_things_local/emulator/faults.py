"""Faults for tests and benchmarks: latency, a request-rate quota, throttling and server errors.

Every knob is off by default. With a ``seed`` the random draws repeat from run to
run (for requests that arrive in the same order).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

from .exceptions import (
    InternalServerException,
    ServiceError,
    ServiceUnavailableException,
    ThrottlingException,
)
from .models import DEFAULT_ACCOUNT_ID


@dataclass(frozen=True)
class EmulatorOptions:
    """How the emulator misbehaves on purpose; the defaults make it behave.

    rate_limit: requests per second (token bucket, bursts up to one second's worth);
        requests beyond it answer ThrottlingException (429).
    throttle_fraction: share of requests answered ThrottlingException (429).
    error_fraction: share of requests answered InternalServerException (500) or
        ServiceUnavailableException (503) before anything is done.
    error_after_commit_fraction: share of CreateManagedThing requests that create
        the thing and then answer InternalServerException (500); a retry with the
        same ClientToken gets the thing back.
    latency: seconds added to every request.
    seed: seed of the random draws, for repeatable faults.
    account_id: the account in the ARNs.
    """

    rate_limit: float | None = None
    throttle_fraction: float = 0.0
    error_fraction: float = 0.0
    error_after_commit_fraction: float = 0.0
    latency: float = 0.0
    seed: int | None = None
    account_id: str = DEFAULT_ACCOUNT_ID

    def __post_init__(self) -> None:
        for name in ("throttle_fraction", "error_fraction", "error_after_commit_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError("rate_limit must be positive")
        if self.latency < 0:
            raise ValueError("latency must not be negative")


class FaultInjector:
    """Decides, request by request, whether to delay, throttle or fail it."""

    def __init__(self, options: EmulatorOptions) -> None:
        self.options = options
        self._random = random.Random(options.seed)
        self._lock = threading.Lock()
        self._bucket = TokenBucket(options.rate_limit) if options.rate_limit else None

    def before_request(self) -> None:
        """Sleep the configured latency, then raise the fault this request draws, if any."""
        if self.options.latency:
            time.sleep(self.options.latency)
        if self._bucket is not None and not self._bucket.take():
            raise ThrottlingException("Rate exceeded")
        if self._draw(self.options.throttle_fraction):
            raise ThrottlingException("Rate exceeded")
        if self._draw(self.options.error_fraction):
            if self._draw(0.5):
                raise ServiceUnavailableException("The service is unavailable. Please try again.")
            raise InternalServerException("An internal error occurred. Please try again.")

    def after_commit(self) -> ServiceError | None:
        """The error to answer a Create that has just committed a new thing, if it draws one."""
        if self._draw(self.options.error_after_commit_fraction):
            return InternalServerException("An internal error occurred. Please try again.")
        return None

    def _draw(self, fraction: float) -> bool:
        if fraction <= 0.0:
            return False
        with self._lock:
            return self._random.random() < fraction


class TokenBucket:
    """``rate`` tokens a second, holding at most ``max(rate, 1)``."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(rate, 1.0)
        self._tokens = self.capacity
        self._clock = time.monotonic
        self._last = self._clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False
