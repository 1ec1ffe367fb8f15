"""record_event and its fan-out: one webhook delivery per matching, active subscription."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.crypto import PasswordBox
from app.db.base import utc_now
from app.events.models import Event, WebhookSubscription
from app.events.service import fan_out_event, record_event
from app.events.types import EventType
from app.events.work import EventWork
from app.outbox.models import OutboxItem
from tests.builders import STATE_SIRET, SUPPLIER_SIRET
from tests.conftest import TEST_SECRETS_KEY
from tests.events.builders import add_invoice

BOX = PasswordBox([TEST_SECRETS_KEY.get_secret_value()])


def subscription(
    subscription_id: str, event_types: list[str], *, disabled: bool = False
) -> WebhookSubscription:
    return WebhookSubscription(
        id=subscription_id,
        url=f"https://receiver.test/{subscription_id}",
        secret_ciphertext=BOX.seal(SecretStr("whsec_dGVzdA==")),
        event_types=event_types,
        created_at=utc_now(),
        disabled_at=utc_now() if disabled else None,
    )


async def webhook_items(session: AsyncSession) -> list[OutboxItem]:
    query = select(OutboxItem).where(OutboxItem.kind == str(EventWork.DELIVER_WEBHOOK))
    return list((await session.scalars(query.order_by(OutboxItem.id))).all())


async def test_an_event_snapshots_the_invoice_and_its_chorus_state(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    status_at = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
    async with sessionmaker() as session, session.begin():
        invoice = await add_invoice(
            session,
            status="rejected",
            chorus_invoice_id=4242,
            chorus_status="REJETEE",
            chorus_status_at=status_at,
            chorus_rejection={"code": "R01", "label": "EJ inconnu", "raw": "ignored"},
        )
        event = await record_event(
            session, type=EventType.INVOICE_REJECTED, invoice=invoice, detail={"at": status_at}
        )
    async with sessionmaker() as session:
        stored = await session.scalar(select(Event))
    assert stored is not None
    assert stored.id == event.id
    assert stored.id.startswith("evt_")
    assert stored.type == "invoice.rejected"
    assert (stored.invoice_id, stored.supplier_siret) == (invoice.id, SUPPLIER_SIRET)
    assert stored.data == {
        "invoice": {
            "id": invoice.id,
            "invoice_number": invoice.invoice_number,
            "type": "invoice",
            "status": "rejected",
            "supplier": {"siret": SUPPLIER_SIRET},
            "buyer": {"siret": STATE_SIRET},
            "chorus": {
                "invoice_id": 4242,
                "status": "REJETEE",
                "status_at": "2026-11-21T09:30:00Z",
                "rejection": {"code": "R01", "label": "EJ inconnu"},
            },
        },
        "detail": {"at": "2026-11-21T09:30:00Z"},
    }


async def test_one_delivery_per_matching_active_subscription(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        session.add_all(
            [
                subscription("whk_all", []),
                subscription("whk_paid", ["invoice.paid", "invoice.rejected"]),
                subscription("whk_queued_only", ["invoice.queued"]),
                subscription("whk_disabled", [], disabled=True),
            ]
        )
        invoice = await add_invoice(session)
        event = await record_event(session, type=EventType.INVOICE_PAID, invoice=invoice)
    async with sessionmaker() as session:
        assert await webhook_items(session) == []  # matching is the worker's job
        fan_out_item = await session.scalar(
            select(OutboxItem).where(OutboxItem.kind == str(EventWork.FAN_OUT))
        )
    assert fan_out_item is not None
    assert fan_out_item.payload == {"event_id": event.id}
    async with sessionmaker() as session, session.begin():
        assert await fan_out_event(session, event.id) == 2
    async with sessionmaker() as session:
        items = await webhook_items(session)
    assert sorted(item.payload["subscription_id"] for item in items) == ["whk_all", "whk_paid"]
    assert {item.payload["event_id"] for item in items} == {event.id}
    assert all(item.state == "pending" for item in items)


async def test_without_subscriptions_only_the_event_is_written_and_seq_grows(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        invoice = await add_invoice(session)
        first = await record_event(session, type=EventType.INVOICE_QUEUED, invoice=invoice)
        second = await record_event(session, type=EventType.INVOICE_SUBMITTED, invoice=invoice)
        await session.flush()
        assert await fan_out_event(session, first.id) == 0
    assert first.seq < second.seq
    assert first.data["detail"] is None
    async with sessionmaker() as session:
        assert await webhook_items(session) == []


async def test_nothing_is_written_when_the_callers_transaction_rolls_back(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        session.add(subscription("whk_all", []))
    async with sessionmaker() as session:
        invoice = await add_invoice(session)
        await record_event(session, type=EventType.INVOICE_FAILED, invoice=invoice)
        await session.rollback()
    async with sessionmaker() as session:
        assert await session.scalar(select(Event)) is None
        assert await webhook_items(session) == []
