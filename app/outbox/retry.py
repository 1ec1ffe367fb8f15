"""The retry policy: pure, so it is tested without a clock or a database."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from app.settings import OutboxSettings


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Full-jitter exponential back-off with a budget of attempts and of age."""

    base_seconds: float = 2.0
    cap_seconds: float = 900.0
    max_attempts: int = 12
    max_age_seconds: float = 24 * 3600.0

    @classmethod
    def from_settings(cls, settings: OutboxSettings) -> RetryPolicy:
        """The policy the settings describe."""
        return cls(
            base_seconds=settings.retry_base_seconds,
            cap_seconds=settings.retry_cap_seconds,
            max_attempts=settings.retry_max_attempts,
            max_age_seconds=settings.retry_max_age_hours * 3600,
        )


def next_delay(
    policy: RetryPolicy,
    *,
    attempts: int,
    age_seconds: float,
    retry_after: float | None = None,
    uniform: Callable[[], float] = random.random,
) -> float | None:
    """Seconds to wait after the `attempts`-th failed attempt, or None to give up.

    Full jitter (a uniform draw below the exponential ceiling) spreads a burst of failures so
    retries do not arrive at Chorus in lockstep; `Retry-After` is a floor, never shortened.
    """
    if attempts >= policy.max_attempts or age_seconds >= policy.max_age_seconds:
        return None
    ceiling = min(policy.cap_seconds, policy.base_seconds * 2.0 ** max(0, attempts - 1))
    delay = uniform() * ceiling
    if retry_after is not None:
        delay = max(delay, retry_after)
    if age_seconds + delay >= policy.max_age_seconds:
        return None
    return delay
