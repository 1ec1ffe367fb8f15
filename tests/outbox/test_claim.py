"""Claiming under leases and recording only while the lease is held, on both databases."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.base import utc_now
from app.events.work import EventWork
from app.outbox.claim import claim_due
from app.outbox.models import OutboxItem
from app.outbox.outcomes import Apply, Done, GiveUp, Outcome, Reschedule, RetryLater
from app.outbox.retry import RetryPolicy
from app.outbox.service import enqueue
from app.outbox.worker import Worker, record_outcome, record_outcomes
from app.settings import OutboxSettings

LEASE = timedelta(seconds=60)
POLICY = RetryPolicy()


async def add_items(sessionmaker: async_sessionmaker[AsyncSession], count: int) -> None:
    async with sessionmaker() as session, session.begin():
        for _ in range(count):
            enqueue(session, EventWork.DELIVER_WEBHOOK, payload={"n": 1})


async def load(sessionmaker: async_sessionmaker[AsyncSession], item_id: int) -> OutboxItem:
    async with sessionmaker() as session:
        item = await session.get(OutboxItem, item_id)
    assert item is not None
    return item


async def test_a_claim_leases_due_items_and_counts_the_attempt(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await add_items(sessionmaker, 3)
    claimed = await claim_due(sessionmaker, owner="w1", limit=2, lease=LEASE)
    assert len(claimed) == 2
    assert all(item.lease_owner == "w1" and item.attempts == 1 for item in claimed)
    rest = await claim_due(sessionmaker, owner="w2", limit=10, lease=LEASE)
    assert len(rest) == 1
    assert rest[0].id not in {item.id for item in claimed}
    assert await claim_due(sessionmaker, owner="w3", limit=10, lease=LEASE) == []


async def test_items_not_yet_due_are_left(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        enqueue(session, EventWork.DELIVER_WEBHOOK, due_at=utc_now() + timedelta(minutes=5))
    assert await claim_due(sessionmaker, owner="w1", limit=10, lease=LEASE) == []


async def test_an_expired_lease_is_handed_over_and_the_old_owner_cannot_record(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await add_items(sessionmaker, 1)
    [first] = await claim_due(sessionmaker, owner="dead", limit=1, lease=timedelta(seconds=-1))
    [taken] = await claim_due(sessionmaker, owner="alive", limit=1, lease=LEASE)
    assert taken.id == first.id
    assert taken.attempts == 2
    assert not await record_outcome(sessionmaker, first, Done(), owner="dead", policy=POLICY)
    assert await record_outcome(sessionmaker, taken, Done(), owner="alive", policy=POLICY)
    assert (await load(sessionmaker, taken.id)).state == "done"


async def test_an_outcome_is_not_recorded_once_the_lease_expired(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await add_items(sessionmaker, 1)
    [item] = await claim_due(sessionmaker, owner="slow", limit=1, lease=LEASE)
    late = utc_now() + LEASE + timedelta(seconds=1)
    assert not await record_outcome(
        sessionmaker, item, Done(), owner="slow", policy=POLICY, now=late
    )
    assert (await load(sessionmaker, item.id)).state == "pending"


async def test_apply_runs_only_with_the_outcome(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await add_items(sessionmaker, 1)
    [item] = await claim_due(sessionmaker, owner="w", limit=1, lease=LEASE)
    calls: list[str] = []

    async def apply(session: AsyncSession) -> None:
        calls.append("applied")

    assert not await record_outcome(sessionmaker, item, Done(apply), owner="other", policy=POLICY)
    assert calls == []
    assert await record_outcome(sessionmaker, item, Done(apply), owner="w", policy=POLICY)
    assert calls == ["applied"]


async def test_a_failing_apply_rolls_the_outcome_back(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    import pytest

    await add_items(sessionmaker, 1)
    [item] = await claim_due(sessionmaker, owner="w", limit=1, lease=LEASE)

    async def broken(session: AsyncSession) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await record_outcome(sessionmaker, item, Done(broken), owner="w", policy=POLICY)
    reloaded = await load(sessionmaker, item.id)
    assert reloaded.state == "pending"
    assert reloaded.lease_owner == "w"


async def test_retry_later_schedules_then_gives_up(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await add_items(sessionmaker, 1)
    policy = RetryPolicy(base_seconds=1, cap_seconds=1, max_attempts=2)
    given_up: list[str] = []

    async def on_give_up(session: AsyncSession) -> None:
        given_up.append("failed")

    [item] = await claim_due(sessionmaker, owner="w", limit=1, lease=LEASE)
    outcome = RetryLater("503", retry_after=30, on_give_up=on_give_up)
    assert await record_outcome(sessionmaker, item, outcome, owner="w", policy=policy)
    retried = await load(sessionmaker, item.id)
    assert retried.state == "pending"
    assert retried.last_error == "503"
    assert retried.lease_owner is None
    assert retried.next_attempt_at >= utc_now() + timedelta(seconds=29)
    later = utc_now() + timedelta(seconds=31)
    [again] = await claim_due(sessionmaker, owner="w", limit=1, lease=LEASE, now=later)
    assert await record_outcome(sessionmaker, again, outcome, owner="w", policy=policy, now=later)
    failed = await load(sessionmaker, item.id)
    assert failed.state == "failed"
    assert failed.last_error is not None
    assert "retry budget spent" in failed.last_error
    assert given_up == ["failed"]


async def test_reschedule_gives_the_attempt_back_and_give_up_fails_at_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await add_items(sessionmaker, 2)
    first, second = await claim_due(sessionmaker, owner="w", limit=2, lease=LEASE)
    at = utc_now() + timedelta(minutes=1)
    await record_outcome(
        sessionmaker, first, Reschedule(at, note="paused"), owner="w", policy=POLICY
    )
    await record_outcome(sessionmaker, second, GiveUp("bad"), owner="w", policy=POLICY)
    rescheduled = await load(sessionmaker, first.id)
    assert (rescheduled.state, rescheduled.attempts, rescheduled.last_error) == (
        "pending",
        0,
        "paused",
    )
    assert (await load(sessionmaker, second.id)).state == "failed"


async def test_concurrent_claims_never_share_an_item(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await add_items(sessionmaker, 60)
    batches = await asyncio.gather(
        *(claim_due(sessionmaker, owner=f"w{n}", limit=7, lease=LEASE) for n in range(6))
    )
    ids = [item.id for batch in batches for item in batch]
    assert len(ids) == len(set(ids)) == 42
    async with sessionmaker() as session:
        owners = (await session.scalars(select(OutboxItem.lease_owner))).all()
    assert sum(owner is not None for owner in owners) == 42


async def test_a_group_records_only_the_items_whose_lease_is_still_held(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await add_items(sessionmaker, 3)
    first, second, third = await claim_due(sessionmaker, owner="w", limit=3, lease=LEASE)
    # The second item's lease ran out and another worker took it meanwhile.
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(OutboxItem).where(OutboxItem.id == second.id).values(lease_owner="other")
        )
    applied: list[int] = []

    def note(item_id: int) -> Apply:
        async def apply(session: AsyncSession) -> None:
            applied.append(item_id)

        return apply

    later = utc_now() + timedelta(hours=1)
    results = await record_outcomes(
        sessionmaker,
        [
            (first, Done(note(first.id))),
            (second, Done(note(second.id))),
            (third, Reschedule(later, note="again", apply=note(third.id))),
        ],
        owner="w",
        policy=POLICY,
    )
    assert results == [True, False, True]
    assert applied == [first.id, third.id]
    assert (await load(sessionmaker, first.id)).state == "done"
    taken = await load(sessionmaker, second.id)
    assert (taken.state, taken.lease_owner) == ("pending", "other")
    rescheduled = await load(sessionmaker, third.id)
    assert (rescheduled.state, rescheduled.attempts, rescheduled.lease_owner) == (
        "pending",
        0,
        None,
    )
    assert rescheduled.last_error == "again"


async def test_one_broken_outcome_in_a_group_leaves_the_others_recorded(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    import pytest

    await add_items(sessionmaker, 3)
    async with sessionmaker() as session:
        ids = list((await session.scalars(select(OutboxItem.id).order_by(OutboxItem.id))).all())

    async def broken(session: AsyncSession) -> None:
        raise RuntimeError("boom")

    outcomes: dict[int, Outcome] = {ids[0]: Done(), ids[1]: Done(broken), ids[2]: GiveUp("no")}

    async def handler(item: OutboxItem) -> Outcome:
        return outcomes[item.id]

    worker = Worker(
        sessionmaker, {EventWork.DELIVER_WEBHOOK: handler}, OutboxSettings(), worker_id="w"
    )
    # The three finish together, so their outcomes are written as one group first.
    with pytest.raises(RuntimeError):
        await worker.run_once()
    states = [(await load(sessionmaker, item_id)).state for item_id in ids]
    # The broken one stays leased to `w`: another worker takes it once the lease expires.
    assert states == ["done", "pending", "failed"]
    assert (await load(sessionmaker, ids[1])).lease_owner == "w"
