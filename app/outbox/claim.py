"""Claiming due outbox items under a lease, and recording outcomes only while it is held.

The claim protocol: in one short transaction, pick due items that nobody holds (PostgreSQL:
`FOR UPDATE SKIP LOCKED`, so concurrent workers never pick the same row; SQLite: the single
writer lock taken by `BEGIN IMMEDIATE`), stamp them with this worker's lease and count the
attempt, commit. The HTTP call happens after that commit. The outcome is written by an UPDATE
that matches only while `lease_owner` is still this worker and the lease has not expired, so a
worker that stalled past its lease can never overwrite the work of the one that took over.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.base import utc_now
from app.outbox.models import OutboxItem
from app.outbox.service import OutboxState


async def claim_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    owner: str,
    limit: int,
    lease: timedelta,
    now: datetime | None = None,
    kinds: Collection[str] | None = None,
    other_kinds: Collection[str] = (),
) -> Sequence[OutboxItem]:
    """Lease up to `limit` due items to `owner`; returns them as claimed.

    Only items of `kinds` when given, and never of `other_kinds`: a worker claims each share
    of its slots (invoice work, webhooks) apart, so one kind never fills the slots of another.
    """
    now = now or utc_now()
    due = (
        select(OutboxItem.id)
        .where(
            OutboxItem.state == OutboxState.PENDING,
            OutboxItem.next_attempt_at <= now,
            # An expired lease is a worker that died or stalled: its item is taken over.
            or_(OutboxItem.lease_until.is_(None), OutboxItem.lease_until < now),
        )
        .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
        .limit(limit)
    )
    if kinds is not None:
        due = due.where(OutboxItem.kind.in_(sorted(kinds)))
    if other_kinds:
        due = due.where(OutboxItem.kind.not_in(sorted(other_kinds)))
    async with sessionmaker() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        # One statement: the due rows are picked (and, on PostgreSQL, locked, skipping those
        # another worker is claiming) and leased together.
        claimed = (
            await session.scalars(
                update(OutboxItem)
                .where(OutboxItem.id.in_(due.scalar_subquery()))
                .values(
                    lease_owner=owner,
                    lease_until=now + lease,
                    attempts=OutboxItem.attempts + 1,
                    updated_at=now,
                )
                .returning(OutboxItem)
                .execution_options(synchronize_session=False, populate_existing=True)
            )
        ).all()
    return sorted(claimed, key=lambda item: item.id)


def held_by(item_id: int, owner: str, now: datetime) -> ColumnElement[bool]:
    """The WHERE clause of an update allowed only while `owner` holds the lease."""
    return and_(
        OutboxItem.id == item_id,
        OutboxItem.lease_owner == owner,
        OutboxItem.lease_until > now,
    )


async def renew_lease(
    sessionmaker: async_sessionmaker[AsyncSession],
    item_id: int,
    owner: str,
    lease: timedelta,
    now: datetime | None = None,
) -> bool:
    """Push the lease's end further while `owner` still holds it; False if it does not."""
    now = now or utc_now()
    async with sessionmaker() as session, session.begin():
        result = await session.execute(
            update(OutboxItem).where(held_by(item_id, owner, now)).values(lease_until=now + lease)
        )
    return getattr(result, "rowcount", 0) == 1
