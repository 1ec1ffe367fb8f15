"""A test event for one webhook subscription: signed and sent like any other, by the worker."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utc_now
from app.db.types import new_id
from app.errors import NotFound
from app.events import repository
from app.events.models import Event
from app.events.work import EventWork
from app.outbox.service import enqueue

TEST_EVENT_TYPE = "webhook.test"


async def send_test_event(session: AsyncSession, subscription_id: str) -> Event:
    """Record a `webhook.test` event (no invoice, no supplier) and queue it to this endpoint."""
    subscription = await repository.get_subscription(session, subscription_id)
    if subscription is None or subscription.disabled_at is not None:
        raise NotFound(f"No active webhook subscription {subscription_id}.")
    event = Event(
        id=new_id("evt_"),
        type=TEST_EVENT_TYPE,
        invoice_id=None,
        supplier_siret=None,
        data={"test": True, "subscription_id": subscription.id},
        created_at=utc_now(),
    )
    session.add(event)
    await session.flush()
    enqueue(
        session,
        EventWork.DELIVER_WEBHOOK,
        payload={"event_id": event.id, "subscription_id": subscription.id},
    )
    return event
