"""Status sync: Chorus's lifecycle comes back into the invoice, its history and its events."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.events.models import Event
from app.outbox.models import OutboxItem
from app.outbox.worker import Worker
from tests.worker.conftest import Post, drain

pytestmark = pytest.mark.usefixtures("acme")


async def move(
    emulator: httpx.AsyncClient, chorus_id: int, status: str, reason: str | None = None
) -> None:
    body = {"statut": status, **({"motif": reason} if reason else {})}
    response = await emulator.post(f"/_emulator/invoices/{chorus_id}/status", json=body)
    assert response.status_code == 200, response.text


async def test_the_lifecycle_is_followed_until_paid(
    post: Post,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    invoice_id = await post()
    invoice = await drain(worker, sessionmaker, invoice_id, lambda i: i.status == "submitted")
    assert invoice.chorus_invoice_id is not None
    for status in ("EN_COURS_ACHEMINEMENT", "MISE_A_DISPOSITION"):
        await move(emulator, invoice.chorus_invoice_id, status)
    invoice = await drain(
        worker, sessionmaker, invoice_id, lambda i: i.chorus_status == "MISE_A_DISPOSITION"
    )
    assert invoice.status == "submitted"
    for status in ("MANDATEE", "MISE_EN_PAIEMENT"):
        await move(emulator, invoice.chorus_invoice_id, status)
    invoice = await drain(worker, sessionmaker, invoice_id, lambda i: i.status == "paid")
    assert [(h.status, h.chorus_status) for h in invoice.history] == [
        ("queued", None),
        ("submitted", "DEPOSEE"),
        ("submitted", "EN_COURS_ACHEMINEMENT"),
        ("submitted", "MISE_A_DISPOSITION"),
        ("submitted", "MANDATEE"),
        ("paid", "MISE_EN_PAIEMENT"),
    ]
    async with sessionmaker() as session:
        sync = await session.scalar(select(OutboxItem).where(OutboxItem.kind == "invoice.sync"))
        types = (
            await session.scalars(
                select(Event.type).where(Event.invoice_id == invoice_id).order_by(Event.seq)
            )
        ).all()
    assert sync is not None
    assert sync.state == "done"  # a final state: polling stops
    assert types.count("invoice.status_changed") == 4
    assert types[-1] == "invoice.paid"


async def test_a_buyer_rejection_carries_its_reason(
    post: Post,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    invoice_id = await post()
    invoice = await drain(worker, sessionmaker, invoice_id, lambda i: i.status == "submitted")
    assert invoice.chorus_invoice_id is not None
    await move(emulator, invoice.chorus_invoice_id, "MISE_A_DISPOSITION")
    await move(emulator, invoice.chorus_invoice_id, "REJETEE", "EJ clos, refaire la facture")
    invoice = await drain(worker, sessionmaker, invoice_id, lambda i: i.status == "rejected")
    assert invoice.chorus_status == "REJETEE"
    assert invoice.chorus_rejection == {"code": "REJETEE", "label": "EJ clos, refaire la facture"}
    assert invoice.history[-1].detail == "EJ clos, refaire la facture"


async def test_a_suspension_reason_is_kept_and_polling_goes_on(
    post: Post,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    invoice_id = await post()
    invoice = await drain(worker, sessionmaker, invoice_id, lambda i: i.status == "submitted")
    assert invoice.chorus_invoice_id is not None
    await move(emulator, invoice.chorus_invoice_id, "MISE_A_DISPOSITION")
    await move(emulator, invoice.chorus_invoice_id, "SUSPENDUE", "Pièce manquante")
    invoice = await drain(
        worker, sessionmaker, invoice_id, lambda i: i.chorus_status == "SUSPENDUE"
    )
    assert invoice.status == "submitted"
    assert invoice.history[-1].detail == "Pièce manquante"
    async with sessionmaker() as session:
        sync = await session.scalar(select(OutboxItem).where(OutboxItem.kind == "invoice.sync"))
    assert sync is not None
    assert sync.state == "pending"
