"""The worker loop: claim under a lease, handle with no transaction open, record, repeat.

On SIGTERM (or when `stop` is set) it finishes the items in hand and exits; anything it could
not record is taken over by another worker once the lease expires.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.base import utc_now
from app.logging import get_logger
from app.outbox.claim import claim_due, held_by, renew_lease
from app.outbox.models import OutboxItem, WorkerHeartbeat
from app.outbox.outcomes import Apply, Done, GiveUp, Outcome, Reschedule, RetryLater
from app.outbox.retry import RetryPolicy, next_delay
from app.outbox.service import OutboxState
from app.request_context import request_id_var
from app.settings import OutboxSettings

logger = logging.getLogger(__name__)
log = get_logger("gateway.worker")

Handler = Callable[[OutboxItem], Coroutine[Any, Any, Outcome]]
# Run in a group's recording transaction before the items' domain changes, with those items.
Prepare = Callable[[AsyncSession, list[OutboxItem]], Awaitable[None]]
MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class Lane:
    """A share of a worker's slots, claimed apart: the items of `kinds` (None: all the rest).

    Items in one lane never take another lane's slots, so work that may be slow by nature (a
    webhook receiver, outside our control) cannot delay the rest (invoices to Chorus Pro).
    """

    name: str
    slots: int
    kinds: frozenset[str] | None = None


def new_worker_id() -> str:
    """A worker id that tells operators where it runs."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Worker:
    """One worker process's loop over the outbox."""

    sessionmaker: async_sessionmaker[AsyncSession]
    handlers: Mapping[str, Handler]
    settings: OutboxSettings
    worker_id: str = field(default_factory=new_worker_id)
    # When Chorus last answered, for the heartbeat (health shows it).
    last_chorus_success: Callable[[], datetime | None] = lambda: None
    # Its slots, by kind of work; none given: one lane of `batch_size` slots for every kind.
    lanes: Sequence[Lane] = ()
    # Before a group's domain changes (`record_outcomes`): e.g. lock their invoices at once.
    prepare_record: Prepare | None = None
    handled: int = 0
    lost_leases: int = 0
    # Outcomes waiting to be written together; made on first use, in the running loop.
    _recorder: _Recorder | None = field(default=None, init=False, repr=False)
    # Per lane: when a claim last came back empty.
    _rested: dict[str, float] = field(default_factory=dict, init=False, repr=False)

    @property
    def policy(self) -> RetryPolicy:
        """The retry policy from the settings."""
        return RetryPolicy.from_settings(self.settings)

    def _lanes(self) -> Sequence[Lane]:
        return self.lanes or (Lane("outbox", self.settings.batch_size),)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; the items in hand are finished first.

        Each lane has its slots, refilled as soon as half of them are free, so one slow call
        (a timeout, a Retry-After) never holds the others back, nor one lane another.
        """
        heartbeat = asyncio.create_task(self._beat_until(stop))
        lanes = self._lanes()
        in_hand: dict[str, set[asyncio.Task[None]]] = {lane.name: set() for lane in lanes}
        try:
            while not stop.is_set():
                for lane in lanes:
                    free = lane.slots - len(in_hand[lane.name])
                    claimed = (
                        await self._claim(lane, free) if self._worth_claiming(lane, free) else []
                    )
                    in_hand[lane.name] |= {asyncio.create_task(self._handle(i)) for i in claimed}
                every = set().union(*in_hand.values())
                if not every:
                    await _sleep_unless(stop, self.settings.poll_interval_seconds)
                else:
                    # Until a slot frees, or new items may be due.
                    done, _ = await asyncio.wait(
                        every,
                        timeout=self.settings.poll_interval_seconds,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    for task in done:
                        _report_crash(task)
                    for tasks in in_hand.values():
                        tasks -= done
        finally:
            every = set().union(*in_hand.values())
            if every:
                await asyncio.wait(every)
            await heartbeat
            await self._beat(stopped=True)

    def _worth_claiming(self, lane: Lane, free: int) -> bool:
        """Claim when half the lane's slots are free (a claim costs the same for 1 item or 16),
        and, after a claim that found nothing, not before the poll interval has passed."""
        if free <= 0 or free < min(lane.slots, max(1, lane.slots // 2)):
            return False
        rested = self._rested.get(lane.name)
        return rested is None or time.monotonic() - rested >= self.settings.poll_interval_seconds

    async def _claim(self, lane: Lane, limit: int) -> Sequence[OutboxItem]:
        taken_elsewhere = set().union(*(other.kinds or () for other in self._lanes()))
        claimed = await claim_due(
            self.sessionmaker,
            owner=self.worker_id,
            limit=limit,
            lease=timedelta(seconds=self.settings.lease_seconds),
            kinds=lane.kinds,
            other_kinds=taken_elsewhere if lane.kinds is None else (),
        )
        if claimed:
            self._rested.pop(lane.name, None)
        else:
            self._rested[lane.name] = time.monotonic()
        return claimed

    async def run_once(self) -> int:
        """Claim one batch per lane and handle it to the end; returns how many were claimed."""
        claimed = [item for lane in self._lanes() for item in await self._claim(lane, lane.slots)]
        await asyncio.gather(*(self._handle(item) for item in claimed))
        return len(claimed)

    async def _handle(self, item: OutboxItem) -> None:
        # One id per attempt, in every log line and on every Chorus call it makes.
        request_id_var.set(f"outbox-{item.id}-{item.attempts}")
        started = time.perf_counter()
        handler = self.handlers.get(item.kind)
        outcome: Outcome | None
        if handler is None:
            outcome = GiveUp(f"no handler for outbox kind {item.kind!r}")
        else:
            outcome = await self._run_holding_lease(handler, item)
        recorded = outcome is not None and await self._record(item, outcome)
        if recorded:
            self.handled += 1
        else:
            self.lost_leases += 1
        log.info(
            "outbox.attempt",
            kind=item.kind,
            outbox_item=item.id,
            invoice_id=item.invoice_id,
            attempt=item.attempts,
            outcome=type(outcome).__name__ if outcome else "lease_lost",
            error=getattr(outcome, "error", None) or getattr(outcome, "note", None),
            recorded=recorded,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            worker=self.worker_id,
        )

    async def _record(self, item: OutboxItem, outcome: Outcome) -> bool:
        if self._recorder is None:
            self._recorder = _Recorder(
                self.sessionmaker, self.worker_id, self.policy, self.prepare_record
            )
        return await self._recorder.record(item, outcome)

    async def _run_holding_lease(self, handler: Handler, item: OutboxItem) -> Outcome | None:
        """Run the handler while renewing the lease; None if the lease was lost meanwhile.

        A handler makes several calls in a row (token, structure, search, submit), each behind
        the throttle, so no fixed lease can be sure to outlast it. The lease is renewed every
        third of its length instead; if a renewal fails (another worker took the item, or the
        database is out of reach), the handler is cancelled at once rather than risk two
        attempts in flight: the worker that holds the item reconciles before sending.
        """
        work = asyncio.create_task(handler(item))
        keeper = asyncio.create_task(self._keep_lease(item, work))
        try:
            return await work
        except asyncio.CancelledError:
            if keeper.done() and not keeper.cancelled() and keeper.result() is False:
                return None
            raise
        except Exception as exc:
            # A bug or an unexpected answer must not kill the loop; the item is retried.
            logger.exception("outbox handler failed", extra={"outbox_item": item.id})
            return RetryLater(f"unexpected {type(exc).__name__}")
        finally:
            keeper.cancel()

    async def _keep_lease(self, item: OutboxItem, work: asyncio.Task[Outcome]) -> bool:
        """Extend the lease until `work` ends; False (after cancelling it) once it is lost."""
        lease = timedelta(seconds=self.settings.lease_seconds)
        while True:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            try:
                renewed = await renew_lease(self.sessionmaker, item.id, self.worker_id, lease)
            except Exception:
                logger.exception("lease renewal failed", extra={"outbox_item": item.id})
                renewed = False
            if not renewed:
                work.cancel()
                return False

    async def _beat_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._beat()
            except Exception:
                logger.exception("heartbeat failed")
            await _sleep_unless(stop, self.settings.heartbeat_seconds)

    async def _beat(self, *, stopped: bool = False) -> None:
        now = utc_now()
        async with self.sessionmaker() as session, session.begin():
            beat = await session.get(WorkerHeartbeat, self.worker_id)
            if beat is None:
                hostname, pid = self.worker_id.split(":")[0], os.getpid()
                beat = WorkerHeartbeat(
                    id=self.worker_id, hostname=hostname, pid=pid, started_at=now
                )
                session.add(beat)
            beat.seen_at = now
            beat.stopped_at = now if stopped else None
            beat.last_chorus_success_at = self.last_chorus_success() or beat.last_chorus_success_at


GROUP_LINGER_SECONDS = 0.002


class _Recorder:
    """Writes the outcomes of items that finish together in one transaction (group commit).

    An outcome waits a moment (`GROUP_LINGER_SECONDS`) for others, and while the previous
    group is being written, so a busy worker commits once per group, not once per item. The
    lease check stays per item (`record_outcomes`). Should the group's transaction fail (one
    item's domain change breaks, a deadlock), each item is written again on its own, so one
    item never holds back or undoes another's outcome.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        owner: str,
        policy: RetryPolicy,
        prepare: Prepare | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._prepare = prepare
        self._owner = owner
        self._policy = policy
        self._waiting: list[tuple[OutboxItem, Outcome, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, item: OutboxItem, outcome: Outcome) -> bool:
        """Whether the outcome was written (False: the lease was no longer this worker's)."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, outcome, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        # Shielded: a cancelled caller must not cancel the group's transaction for the others.
        return await asyncio.shield(done)

    async def _write(self) -> None:
        while self._waiting:
            # A moment for the items finishing about now to join the group: a commit (and its
            # lease check) costs far more than this wait, which no HTTP call is held behind.
            await asyncio.sleep(GROUP_LINGER_SECONDS)
            group, self._waiting = self._waiting, []
            pairs = [(item, outcome) for item, outcome, _ in group]
            try:
                if len(pairs) == 1:
                    results: list[bool | BaseException] = [await self._one(*pairs[0])]
                else:
                    results = list(
                        await record_outcomes(
                            self._sessionmaker,
                            pairs,
                            owner=self._owner,
                            policy=self._policy,
                            prepare=self._prepare,
                        )
                    )
            except Exception:
                logger.warning("recording a group of outcomes failed; one by one", exc_info=True)
                results = [await self._one_or_error(item, outcome) for item, outcome in pairs]
            for (_, _, done), result in zip(group, results, strict=True):
                if done.done():
                    continue
                if isinstance(result, BaseException):
                    done.set_exception(result)
                else:
                    done.set_result(result)

    async def _one(self, item: OutboxItem, outcome: Outcome) -> bool:
        return await record_outcome(
            self._sessionmaker, item, outcome, owner=self._owner, policy=self._policy
        )

    async def _one_or_error(self, item: OutboxItem, outcome: Outcome) -> bool | BaseException:
        try:
            return await self._one(item, outcome)
        except Exception as error:
            return error


def _report_crash(task: asyncio.Task[None]) -> None:
    # Recording failed (the database went away): the lease will expire and hand the item over.
    if not task.cancelled() and task.exception() is not None:
        logger.error("outbox item could not be recorded", exc_info=task.exception())


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


async def record_outcome(
    sessionmaker: async_sessionmaker[AsyncSession],
    item: OutboxItem,
    outcome: Outcome,
    *,
    owner: str,
    policy: RetryPolicy,
    now: datetime | None = None,
) -> bool:
    """Write `outcome` (and its domain changes) if `owner` still holds the lease."""
    now = now or utc_now()
    values, apply = _transition(item, outcome, policy, now)
    values |= {"lease_owner": None, "lease_until": None, "updated_at": now}
    async with sessionmaker() as session, session.begin():
        result = await session.execute(
            update(OutboxItem).where(held_by(item.id, owner, now)).values(**values)
        )
        if getattr(result, "rowcount", 0) != 1:
            return False
        if apply is not None:
            await apply(session)
    return True


async def record_outcomes(
    sessionmaker: async_sessionmaker[AsyncSession],
    batch: Sequence[tuple[OutboxItem, Outcome]],
    *,
    owner: str,
    policy: RetryPolicy,
    now: datetime | None = None,
    prepare: Prepare | None = None,
) -> list[bool]:
    """`record_outcome` for several items in one transaction; per item, whether it was written.

    The lease check is per item, as for one: the rows `owner` still holds are selected and
    locked first (FOR UPDATE on PostgreSQL; SQLite's transactions hold its one write lock), so
    no other worker can take them over before the commit; only their outcomes are written.
    Items that end alike (done) share one UPDATE; the domain changes run in the same
    transaction, after `prepare` (given the held items that have some: it may lock and read
    at once what they change).
    """
    now = now or utc_now()
    ids = sorted({item.id for item, _ in batch})
    async with sessionmaker() as session, session.begin():
        held = set(
            (
                await session.scalars(
                    select(OutboxItem.id)
                    .where(
                        OutboxItem.id.in_(ids),
                        OutboxItem.lease_owner == owner,
                        OutboxItem.lease_until > now,
                    )
                    .order_by(OutboxItem.id)
                    .with_for_update()
                )
            ).all()
        )
        applies: list[tuple[OutboxItem, Apply]] = []
        done: list[int] = []
        for item, outcome in batch:
            if item.id not in held:
                continue
            values, apply = _transition(item, outcome, policy, now)
            if apply is not None:
                applies.append((item, apply))
            if values == _DONE:
                done.append(item.id)
                continue
            values |= {"lease_owner": None, "lease_until": None, "updated_at": now}
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item.id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        if done:
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id.in_(done))
                .values(**_DONE, lease_owner=None, lease_until=None, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        if applies:
            if prepare is not None:
                await prepare(session, [item for item, apply in applies])
            # The rows these changes add are written together at the commit, not one by one.
            with session.no_autoflush:
                for _, apply in applies:
                    await apply(session)
    return [item.id in held for item, _ in batch]


_DONE: dict[str, object] = {"state": OutboxState.DONE, "last_error": None}


def _transition(
    item: OutboxItem, outcome: Outcome, policy: RetryPolicy, now: datetime
) -> tuple[dict[str, object], Apply | None]:
    match outcome:
        case Done(apply=apply):
            return {"state": OutboxState.DONE, "last_error": None}, apply
        case Reschedule(at=at, note=note, apply=apply):
            # Not an attempt: give back the one the claim counted.
            return {
                "state": OutboxState.PENDING,
                "next_attempt_at": at,
                "attempts": OutboxItem.attempts - 1,
                "last_error": note,
            }, apply
        case GiveUp(error=error, apply=apply):
            return {"state": OutboxState.FAILED, "last_error": error[:MAX_ERROR_LENGTH]}, apply
        case RetryLater(error=error, retry_after=retry_after, apply=apply, on_give_up=give_up):
            delay = next_delay(
                policy,
                attempts=item.attempts,
                age_seconds=(now - item.created_at).total_seconds(),
                retry_after=retry_after,
            )
            if delay is None:
                return {
                    "state": OutboxState.FAILED,
                    "last_error": f"retry budget spent: {error}"[:MAX_ERROR_LENGTH],
                }, give_up
            return {
                "state": OutboxState.PENDING,
                "next_attempt_at": now + timedelta(seconds=delay),
                "last_error": error[:MAX_ERROR_LENGTH],
            }, apply
    raise TypeError(f"not an outcome: {outcome!r}")
