"""Queries on events and webhook subscriptions; no commits here (the unit of work owns those)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.events.models import Event, WebhookSubscription


async def active_subscriptions(session: AsyncSession) -> Sequence[WebhookSubscription]:
    """Every subscription not disabled."""
    query = select(WebhookSubscription).where(WebhookSubscription.disabled_at.is_(None))
    return (await session.scalars(query.order_by(WebhookSubscription.id))).all()


async def all_subscriptions(session: AsyncSession) -> Sequence[WebhookSubscription]:
    """Every subscription, oldest first (ids are time-ordered), disabled ones included."""
    query = select(WebhookSubscription).order_by(WebhookSubscription.id)
    return (await session.scalars(query)).all()


async def get_subscription(
    session: AsyncSession, subscription_id: str
) -> WebhookSubscription | None:
    """The subscription with this id."""
    return await session.get(WebhookSubscription, subscription_id)


async def disable_subscription(session: AsyncSession, subscription_id: str, at: datetime) -> None:
    """Mark the subscription disabled at `at`, unless it already is (the first time stays)."""
    await session.execute(
        update(WebhookSubscription)
        .where(
            WebhookSubscription.id == subscription_id,
            WebhookSubscription.disabled_at.is_(None),
        )
        .values(disabled_at=at)
    )


async def get_event(session: AsyncSession, event_id: str) -> Event | None:
    """The event with this `webhook-id`."""
    return await session.scalar(select(Event).where(Event.id == event_id))


async def events_after(
    session: AsyncSession,
    *,
    after: int,
    limit: int,
    event_type: str | None,
    visible_suppliers: frozenset[str] | None,
) -> Sequence[Event]:
    """Up to `limit` published events after position `after`; None sees every supplier."""
    query = select(Event).where(Event.position > after)
    if visible_suppliers is not None:
        query = query.where(Event.supplier_siret.in_(sorted(visible_suppliers)))
    if event_type is not None:
        query = query.where(Event.type == event_type)
    return (await session.scalars(query.order_by(Event.position).limit(limit))).all()


# Numbers the committed events not yet in the feed, after the last one in it, in `seq` order.
_PUBLISH = text(
    """
    UPDATE event SET position = numbered.position
    FROM (
        SELECT seq,
               (SELECT COALESCE(MAX(position), 0) FROM event)
               + row_number() OVER (ORDER BY seq) AS position
        FROM event WHERE position IS NULL
    ) AS numbered
    WHERE event.seq = numbered.seq
    """
)


async def publish_pending(session: AsyncSession) -> None:
    """Give feed positions to the events committed since the last publication.

    Only committed events are visible here, and one publisher runs at a time, so an event
    that commits after a reader's page always lands after that page: the feed never skips one.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(7306454172040126)"))
    await session.execute(_PUBLISH)
