"""Retry policies and circuit breakers.

Example::

    from interlace import model
    from interlace.retry import RetryPolicy

    @model(retry_policy=RetryPolicy(max_attempts=5, initial_delay=1, retryable_exceptions=(IOError,)))
    def api_pull(): ...
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from interlace.errors import (
    InterlaceConnectionError,
    InterlaceError,
    ModelDefinitionError,
    SchemaChangeError,
    SelectionError,
    UnsupportedResultError,
)
from interlace.quality import QualityCheckError

# Retrying these cannot help: the model or its data must change first.
NEVER_RETRY: tuple[type[BaseException], ...] = (
    ModelDefinitionError,
    SchemaChangeError,
    UnsupportedResultError,
    SelectionError,
    QualityCheckError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a failing model."""

    max_attempts: int = 3
    initial_delay: float = 1.0
    max_delay: float = 60.0
    exponential_base: float = 2.0
    jitter: float = 0.1  # +/- fraction of the delay, spreads retries of parallel models
    retryable_exceptions: tuple[type[BaseException], ...] = (Exception,)
    retry_condition: Callable[[BaseException], bool] | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")
        if self.exponential_base < 1:
            raise ValueError("exponential_base must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    @classmethod
    def from_value(cls, value: Any) -> RetryPolicy | None:
        """Accept a RetryPolicy, a mapping of its fields (config/SQL header), or None."""
        if value is None or isinstance(value, RetryPolicy):
            return value
        if isinstance(value, dict):
            unknown = set(value) - {
                "max_attempts",
                "initial_delay",
                "max_delay",
                "exponential_base",
                "jitter",
            }
            if unknown:
                raise ValueError(f"unknown retry_policy key(s) {sorted(unknown)}")
            return cls(**value)
        raise ValueError("retry_policy must be a RetryPolicy or a mapping of its fields")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = min(self.max_delay, self.initial_delay * self.exponential_base ** (attempt - 1))
        if not self.jitter:
            return base
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, base * (1 + spread))

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        if attempt >= self.max_attempts:
            return False
        original = (
            error.__cause__ if isinstance(error, InterlaceError) and error.__cause__ else error
        )
        if isinstance(error, NEVER_RETRY) or isinstance(original, NEVER_RETRY):
            return False
        if not isinstance(original, self.retryable_exceptions) and not isinstance(
            error, self.retryable_exceptions
        ):
            return False
        return self.retry_condition is None or bool(self.retry_condition(original))


class CircuitOpenError(InterlaceConnectionError):
    """The connection's circuit breaker is open: calls fail fast until its timeout passes."""


@dataclass
class CircuitBreaker:
    """closed -> (``failure_threshold`` consecutive failures) -> open -> (``timeout`` s) ->
    half-open -> (``success_threshold`` successes) -> closed; a failure when half-open reopens."""

    name: str
    failure_threshold: int = 5
    timeout: float = 60.0
    success_threshold: int = 1
    clock: Callable[[], float] = time.monotonic
    state: str = "closed"
    failures: int = 0
    successes: int = 0
    opened_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def before_call(self) -> None:
        with self._lock:
            if self.state == "open":
                remaining = self.timeout - (self.clock() - self.opened_at)
                if remaining > 0:
                    raise CircuitOpenError(
                        f"circuit breaker of connection '{self.name}' is open after "
                        f"{self.failures} consecutive failures",
                        hint=f"it tries again in {remaining:.0f}s; check the connection",
                    )
                self.state, self.successes = "half_open", 0

    def record_success(self) -> None:
        with self._lock:
            if self.state == "half_open":
                self.successes += 1
                if self.successes >= self.success_threshold:
                    self.state, self.failures = "closed", 0
            else:
                self.failures = 0

    def record_failure(self) -> None:
        with self._lock:
            self.failures += 1
            if self.state == "half_open" or self.failures >= self.failure_threshold:
                self.state, self.opened_at = "open", self.clock()
