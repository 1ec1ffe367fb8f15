"""Recording status events (with their webhook deliveries) and reading the pull feed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import Caller
from app.db.base import utc_now
from app.db.types import new_id
from app.events import repository
from app.events.models import Event
from app.events.schemas import EventOut, EventPage
from app.events.types import EventType
from app.events.work import EventWork
from app.invoices.models import Invoice
from app.outbox.models import OutboxItem
from app.outbox.service import enqueue, outbox_row


def invoice_snapshot(invoice: Invoice) -> dict[str, Any]:
    """The invoice as an event shows it: identity, parties and status, JSON-ready."""
    # Plain columns only: `lines` and `history` are lazy="raise" and may not be loaded.
    rejection = invoice.chorus_rejection
    snapshot = {
        "id": invoice.id,
        "invoice_number": invoice.invoice_number,
        "type": invoice.type,
        "status": invoice.status,
        "supplier": {"siret": invoice.supplier_siret},
        "buyer": {"siret": invoice.buyer_siret},
        "chorus": {
            "invoice_id": invoice.chorus_invoice_id,
            "status": invoice.chorus_status,
            "status_at": invoice.chorus_status_at,
            "rejection": {"code": rejection.get("code"), "label": rejection.get("label")}
            if rejection
            else None,
        },
    }
    jsonable: dict[str, Any] = to_jsonable_python(snapshot)
    return jsonable


def event_rows(
    *,
    type: EventType,
    invoice: Invoice,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The event's row and the outbox row that fans it out to webhook subscriptions.

    Matching subscriptions is left to the worker (`fan_out_event`): the request that records
    the event then spends one outbox row, batched with its others, instead of a query.
    """
    now = now or utc_now()
    event = {
        "id": new_id("evt_"),
        "type": str(type),
        "invoice_id": invoice.id,
        "supplier_siret": invoice.supplier_siret,
        "data": {
            "invoice": invoice_snapshot(invoice),
            "detail": to_jsonable_python(detail) if detail else None,
        },
        "created_at": now,
    }
    fan_out = outbox_row(EventWork.FAN_OUT, payload={"event_id": event["id"]}, now=now)
    return event, fan_out


async def record_event(
    session: AsyncSession,
    *,
    type: EventType,
    invoice: Invoice,
    detail: dict[str, Any] | None = None,
) -> Event:
    """Add the event, and the work of fanning it out to webhook subscriptions, to the
    transaction."""
    event_row, fan_out = event_rows(type=type, invoice=invoice, detail=detail)
    event = Event(**event_row)
    session.add(event)
    session.add(OutboxItem(**fan_out))
    return event


async def fan_out_event(session: AsyncSession, event_id: str) -> int:
    """One webhook delivery per active subscription that wants this event; how many."""
    event = await repository.get_event(session, event_id)
    if event is None:
        return 0
    created = 0
    # Subscriptions are few: filtering their JSON type lists here spares a query that would
    # differ between SQLite's JSON and PostgreSQL's JSONB.
    for subscription in await repository.active_subscriptions(session):
        if not subscription.event_types or event.type in subscription.event_types:
            enqueue(
                session,
                EventWork.DELIVER_WEBHOOK,
                payload={"event_id": event.id, "subscription_id": subscription.id},
            )
            created += 1
    return created


async def list_events(
    session: AsyncSession,
    caller: Caller,
    *,
    after: int,
    limit: int,
    event_type: EventType | None,
) -> EventPage:
    """The events after `after` that the caller may see, in feed order."""
    await repository.publish_pending(session)
    events = await repository.events_after(
        session,
        after=after,
        limit=limit,
        event_type=str(event_type) if event_type else None,
        visible_suppliers=None if caller.is_operator else caller.supplier_sirets,
    )
    items = [EventOut.model_validate(event, from_attributes=True) for event in events]
    return EventPage(items=items, next_after=items[-1].position if items else after)
