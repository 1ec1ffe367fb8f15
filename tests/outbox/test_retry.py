"""The retry policy, without a clock."""

from __future__ import annotations

import pytest

from app.domain.lifecycle import sync_delay_seconds
from app.outbox.retry import RetryPolicy, next_delay

POLICY = RetryPolicy(base_seconds=2, cap_seconds=900, max_attempts=12, max_age_seconds=86400)


@pytest.mark.parametrize(
    ("attempts", "ceiling"),
    [(1, 2), (2, 4), (3, 8), (5, 32), (9, 512), (10, 900), (11, 900)],
)
def test_the_ceiling_doubles_up_to_the_cap(attempts: int, ceiling: float) -> None:
    assert next_delay(POLICY, attempts=attempts, age_seconds=0, uniform=lambda: 1.0) == ceiling


def test_full_jitter_draws_below_the_ceiling() -> None:
    assert next_delay(POLICY, attempts=4, age_seconds=0, uniform=lambda: 0.25) == 4
    assert next_delay(POLICY, attempts=4, age_seconds=0, uniform=lambda: 0.0) == 0


def test_retry_after_is_a_floor() -> None:
    assert next_delay(POLICY, attempts=1, age_seconds=0, retry_after=30, uniform=lambda: 0.5) == 30
    assert next_delay(POLICY, attempts=9, age_seconds=0, retry_after=3, uniform=lambda: 1.0) == 512


def test_the_attempt_budget_gives_up() -> None:
    assert next_delay(POLICY, attempts=11, age_seconds=0) is not None
    assert next_delay(POLICY, attempts=12, age_seconds=0) is None


def test_the_age_budget_gives_up() -> None:
    assert next_delay(POLICY, attempts=1, age_seconds=86399, uniform=lambda: 0.0) is not None
    assert next_delay(POLICY, attempts=1, age_seconds=86400) is None
    assert next_delay(POLICY, attempts=5, age_seconds=86390, uniform=lambda: 1.0) is None


def test_status_polling_backs_off_from_minutes_to_hours() -> None:
    delays = [sync_delay_seconds(n, first=60, maximum=21600) for n in range(12)]
    assert delays[:4] == [60, 120, 240, 480]
    assert delays[-1] == 21600
    assert delays == sorted(delays)
