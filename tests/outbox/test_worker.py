"""The worker loop: leases renewed while handling, lost leases stop the work, slots refill."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.events.work import EventWork
from app.outbox.claim import claim_due
from app.outbox.models import OutboxItem
from app.outbox.outcomes import Done, Outcome
from app.outbox.service import enqueue
from app.outbox.worker import Lane, Worker
from app.settings import OutboxSettings

FAST = OutboxSettings(lease_seconds=0.3, poll_interval_seconds=0.01, heartbeat_seconds=0.1)
FAST_LEASE = timedelta(seconds=0.3)


async def add(
    sessionmaker: async_sessionmaker[AsyncSession],
    count: int = 1,
    kind: str = EventWork.DELIVER_WEBHOOK,
) -> None:
    async with sessionmaker() as session, session.begin():
        for _ in range(count):
            enqueue(session, kind)


async def states(sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(OutboxItem.state).order_by(OutboxItem.id))).all())


async def test_a_handler_slower_than_the_lease_keeps_its_item(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await add(sessionmaker)
    started = asyncio.Event()

    async def slow(item: OutboxItem) -> Outcome:
        started.set()
        await asyncio.sleep(1.0)  # more than three leases
        return Done()

    worker = Worker(sessionmaker, {EventWork.DELIVER_WEBHOOK: slow}, FAST, worker_id="slow")
    running = asyncio.create_task(worker.run_once())
    await started.wait()
    for _ in range(8):
        await asyncio.sleep(0.1)
        stolen = await claim_due(sessionmaker, owner="other", limit=5, lease=FAST_LEASE)
        assert stolen == []
    await running
    assert worker.handled == 1
    assert await states(sessionmaker) == ["done"]


async def test_a_lost_lease_cancels_the_handler_and_records_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await add(sessionmaker)
    cancelled = asyncio.Event()

    async def stuck(item: OutboxItem) -> Outcome:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return Done()

    worker = Worker(sessionmaker, {EventWork.DELIVER_WEBHOOK: stuck}, FAST, worker_id="w")
    running = asyncio.create_task(worker.run_once())
    await asyncio.sleep(0.05)
    async with sessionmaker() as session, session.begin():
        await session.execute(update(OutboxItem).values(lease_owner="thief"))
    await asyncio.wait_for(running, timeout=2)
    assert cancelled.is_set()
    assert worker.lost_leases == 1
    assert await states(sessionmaker) == ["pending"]


async def test_a_slow_item_does_not_hold_the_others_back(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await add(sessionmaker, 1)
    handled: list[int] = []
    release = asyncio.Event()

    async def handler(item: OutboxItem) -> Outcome:
        if item.id == first_id:
            await release.wait()
        handled.append(item.id)
        return Done()

    async with sessionmaker() as session:
        first_id = await session.scalar(select(func.min(OutboxItem.id)))
    settings = FAST.model_copy(update={"batch_size": 2})
    worker = Worker(sessionmaker, {EventWork.DELIVER_WEBHOOK: handler}, settings, worker_id="w")
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(0.1)
    await add(sessionmaker, 5)
    for _ in range(100):
        if len(handled) == 5:
            break
        await asyncio.sleep(0.02)
    assert first_id not in handled
    assert len(handled) == 5  # the other slot kept turning while the first item waited
    release.set()
    stop.set()
    await asyncio.wait_for(running, timeout=5)
    assert first_id in handled


async def test_stopping_finishes_the_items_in_hand(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await add(sessionmaker, 3)
    stop = asyncio.Event()

    async def handler(item: OutboxItem) -> Outcome:
        stop.set()  # SIGTERM arrives while items are in hand
        await asyncio.sleep(0.05)
        return Done()

    worker = Worker(sessionmaker, {EventWork.DELIVER_WEBHOOK: handler}, FAST, worker_id="w")
    await asyncio.wait_for(worker.run(stop), timeout=5)
    assert await states(sessionmaker) == ["done", "done", "done"]


async def test_items_of_one_lane_never_take_the_slots_of_another(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await add(sessionmaker, 4)  # more stuck webhooks than there are slots of either lane
    release = asyncio.Event()
    stuck: list[int] = []
    fanned: list[int] = []

    async def webhook(item: OutboxItem) -> Outcome:
        stuck.append(item.id)
        await release.wait()
        return Done()

    async def fan_out(item: OutboxItem) -> Outcome:
        fanned.append(item.id)
        return Done()

    worker = Worker(
        sessionmaker,
        {EventWork.DELIVER_WEBHOOK: webhook, EventWork.FAN_OUT: fan_out},
        FAST.model_copy(update={"batch_size": 2}),
        worker_id="w",
        lanes=(
            Lane("outbox", 2),
            Lane("webhooks", 2, kinds=frozenset({EventWork.DELIVER_WEBHOOK})),
        ),
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        for _ in range(100):
            if len(stuck) == 2:
                break
            await asyncio.sleep(0.02)
        await add(sessionmaker, 3, kind=EventWork.FAN_OUT)
        for _ in range(100):
            if len(fanned) == 3:
                break
            await asyncio.sleep(0.02)
        assert len(fanned) == 3  # handled while every webhook slot was held
        assert len(stuck) == 2  # webhooks kept to their own two slots
    finally:
        release.set()
        stop.set()
        await asyncio.wait_for(running, timeout=5)
    # The two stuck webhooks and the three fan-outs; the other webhooks wait their turn.
    assert await states(sessionmaker) == ["done", "done", "pending", "pending"] + ["done"] * 3
