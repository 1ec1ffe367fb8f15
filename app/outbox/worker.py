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
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
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
    handled: int = 0
    lost_leases: int = 0

    @property
    def policy(self) -> RetryPolicy:
        """The retry policy from the settings."""
        return RetryPolicy.from_settings(self.settings)

    def _lanes(self) -> Sequence[Lane]:
        return self.lanes or (Lane("outbox", self.settings.batch_size),)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; the items in hand are finished first.

        Each lane has its slots; a free slot is refilled as soon as it frees, so one slow call
        (a timeout, a Retry-After) never holds the others back, nor one lane another.
        """
        heartbeat = asyncio.create_task(self._beat_until(stop))
        lanes = self._lanes()
        in_hand: dict[str, set[asyncio.Task[None]]] = {lane.name: set() for lane in lanes}
        try:
            while not stop.is_set():
                for lane in lanes:
                    free = lane.slots - len(in_hand[lane.name])
                    claimed = await self._claim(lane, free) if free > 0 else []
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

    async def _claim(self, lane: Lane, limit: int) -> Sequence[OutboxItem]:
        taken_elsewhere = set().union(*(other.kinds or () for other in self._lanes()))
        return await claim_due(
            self.sessionmaker,
            owner=self.worker_id,
            limit=limit,
            lease=timedelta(seconds=self.settings.lease_seconds),
            kinds=lane.kinds,
            other_kinds=taken_elsewhere if lane.kinds is None else (),
        )

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
        recorded = outcome is not None and await record_outcome(
            self.sessionmaker, item, outcome, owner=self.worker_id, policy=self.policy
        )
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
