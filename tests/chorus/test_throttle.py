"""The token bucket, on a fake clock so nothing actually sleeps."""

from __future__ import annotations

import asyncio

import pytest

from app.chorus.throttle import TokenBucket


class FakeClock:
    """A clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def test_a_burst_goes_through_without_waiting() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=5, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        await bucket.acquire()
    assert clock.slept == []


async def test_calls_beyond_the_burst_are_paced_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=4, burst=2, clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(10):
        await bucket.acquire()
    # Two free calls, then eight more at four per second.
    assert clock.now - start == pytest.approx(2.0)


async def test_an_idle_bucket_refills_up_to_its_burst_only() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1, burst=3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await bucket.acquire()
    clock.now += 3600
    for _ in range(3):
        await bucket.acquire()
    assert clock.slept == []
    await bucket.acquire()
    assert sum(clock.slept) == pytest.approx(1.0)


async def test_concurrent_waiters_are_all_served_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=1, clock=clock, sleep=clock.sleep)
    start = clock.now
    await asyncio.gather(*(bucket.acquire() for _ in range(21)))
    assert clock.now - start == pytest.approx(2.0)


async def test_a_real_bucket_really_waits() -> None:
    bucket = TokenBucket(rate=50, burst=1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    for _ in range(6):
        await bucket.acquire()
    assert loop.time() - start >= 0.09


def test_a_bucket_needs_a_positive_rate_and_burst() -> None:
    with pytest.raises(ValueError, match="rate > 0"):
        TokenBucket(rate=0, burst=1)
    with pytest.raises(ValueError, match="burst >= 1"):
        TokenBucket(rate=1, burst=0)
