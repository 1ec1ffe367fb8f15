"""Status sync: Chorus's lifecycle comes back into the invoice, its history and its events."""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.domain.identifiers import STATE_SIRET
from app.emulator.directory import read_directory_file
from app.emulator.settings import DEFAULT_DIRECTORY_FILE
from app.events.models import Event
from app.outbox.models import OutboxItem
from app.outbox.worker import Worker
from tests.support.delivery import ACME_LOGIN, ACME_PASSWORD, Post, drain, submitted


async def move(
    emulator: httpx.AsyncClient, chorus_id: int, status: str, reason: str | None = None
) -> None:
    body = {"statut": status, **({"motif": reason} if reason else {})}
    response = await emulator.post(f"/_emulator/invoices/{chorus_id}/status", json=body)
    assert response.status_code == 200, response.text


async def chorus_history(emulator: httpx.AsyncClient, chorus_id: int) -> list[tuple[str, str]]:
    """(code, date) of every status, as the emulator's consulter/historique gives them."""
    token = await emulator.post(
        "/api/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "gateway-dev",
            "client_secret": "gateway-dev-secret",
        },
    )
    account = base64.b64encode(f"{ACME_LOGIN}:{ACME_PASSWORD}".encode()).decode()
    headers = {"Authorization": f"Bearer {token.json()['access_token']}", "cpro-account": account}
    response = await emulator.post(
        "/cpro/factures/v1/consulter/historique", json={"idFacture": chorus_id}, headers=headers
    )
    entries = response.json()["historiquesDesStatuts"]["histoStatut"]
    return [(entry["histoStatutCode"], entry["histoStatutDatePassage"]) for entry in entries]


async def sync_item(sessionmaker: async_sessionmaker[AsyncSession]) -> OutboxItem:
    async with sessionmaker() as session:
        item = await session.scalar(select(OutboxItem).where(OutboxItem.kind == "invoice.sync"))
    assert item is not None
    return item


class Delivered(NamedTuple):
    id: str
    chorus_id: int


@pytest_asyncio.fixture
async def delivered(
    post: Post, worker: Worker, sessionmaker: async_sessionmaker[AsyncSession]
) -> Delivered:
    """An invoice posted and delivered: submitted, with its id in Chorus."""
    invoice = await drain(worker, sessionmaker, await post(), submitted)
    assert invoice.chorus_invoice_id is not None
    return Delivered(invoice.id, invoice.chorus_invoice_id)


async def buyer_answers(
    emulator: httpx.AsyncClient, delivered: Delivered, status: str, reason: str
) -> None:
    """The invoice reaches its buyer (MISE_A_DISPOSITION), who answers `status` with `reason`."""
    await move(emulator, delivered.chorus_id, "MISE_A_DISPOSITION")
    await move(emulator, delivered.chorus_id, status, reason)


async def test_chorus_steps_keep_chorus_times_and_order_never_made_up_seconds(
    delivered: Delivered,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    """Chorus dates its steps to the minute: several in one minute keep Chorus's order."""
    steps = ["EN_COURS_ACHEMINEMENT", "MISE_A_DISPOSITION", "MANDATEE"]
    for status in steps:
        await move(emulator, delivered.chorus_id, status)
    invoice = await drain(
        worker, sessionmaker, delivered.id, lambda i: i.chorus_status == "MANDATEE"
    )
    submitted_at = [entry.status for entry in invoice.history].index("submitted")
    from_chorus = invoice.history[submitted_at + 1 :]
    assert [entry.chorus_status for entry in from_chorus] == steps
    paris = ZoneInfo("Europe/Paris")
    given = {
        code: datetime.strptime(at, "%Y-%m-%d %H:%M").replace(tzinfo=paris)
        for code, at in await chorus_history(emulator, delivered.chorus_id)
    }
    for entry in from_chorus:
        assert entry.at == given[entry.chorus_status]
        assert (entry.at.second, entry.at.microsecond) == (0, 0)
    assert invoice.chorus_status_at == given["MANDATEE"]


async def test_the_lifecycle_is_followed_until_paid(
    delivered: Delivered,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    for status in ("EN_COURS_ACHEMINEMENT", "MISE_A_DISPOSITION"):
        await move(emulator, delivered.chorus_id, status)
    invoice = await drain(
        worker, sessionmaker, delivered.id, lambda i: i.chorus_status == "MISE_A_DISPOSITION"
    )
    assert invoice.status == "submitted"
    for status in ("MANDATEE", "MISE_EN_PAIEMENT"):
        await move(emulator, delivered.chorus_id, status)
    invoice = await drain(worker, sessionmaker, delivered.id, lambda i: i.status == "paid")
    assert [(h.status, h.chorus_status) for h in invoice.history] == [
        ("queued", None),
        ("queued", None),  # the flux deposited
        ("submitted", "DEPOSEE"),
        ("submitted", "EN_COURS_ACHEMINEMENT"),
        ("submitted", "MISE_A_DISPOSITION"),
        ("submitted", "MANDATEE"),
        ("paid", "MISE_EN_PAIEMENT"),
    ]
    async with sessionmaker() as session:
        types = (
            await session.scalars(
                select(Event.type).where(Event.invoice_id == delivered.id).order_by(Event.seq)
            )
        ).all()
    assert (await sync_item(sessionmaker)).state == "done"  # a final state: polling stops
    assert types.count("invoice.status_changed") == 4
    assert types[-1] == "invoice.paid"


async def test_a_buyer_rejection_carries_its_reason(
    delivered: Delivered,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    await buyer_answers(emulator, delivered, "REJETEE", "EJ clos, refaire la facture")
    invoice = await drain(worker, sessionmaker, delivered.id, lambda i: i.status == "rejected")
    assert invoice.chorus_status == "REJETEE"
    assert invoice.chorus_rejection == {"code": "REJETEE", "label": "EJ clos, refaire la facture"}
    assert invoice.history[-1].detail == "EJ clos, refaire la facture"


async def test_a_suspension_reason_is_kept_and_polling_goes_on(
    delivered: Delivered,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    await buyer_answers(emulator, delivered, "SUSPENDUE", "Pièce manquante")
    invoice = await drain(
        worker, sessionmaker, delivered.id, lambda i: i.chorus_status == "SUSPENDUE"
    )
    assert invoice.status == "submitted"
    assert invoice.history[-1].detail == "Pièce manquante"
    assert (await sync_item(sessionmaker)).state == "pending"


async def flag_state_payment_not_reported(emulator: httpx.AsyncClient) -> None:
    """The State, as seeded, with `statutMiseEnPaiementNestPasRemonte` set."""
    [state] = [
        spec
        for spec in read_directory_file(DEFAULT_DIRECTORY_FILE)
        if spec.identifier == STATE_SIRET
    ]
    body = state.model_copy(update={"payment_status_not_reported": True}).model_dump(mode="json")
    response = await emulator.post("/_emulator/structures", json=body)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("not_reported", [True, False])
async def test_polling_stops_at_mandatee_for_a_buyer_that_never_reports_payment(
    post: Post,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
    not_reported: bool,
) -> None:
    if not_reported:
        await flag_state_payment_not_reported(emulator)
    invoice_id = await post()
    invoice = await drain(worker, sessionmaker, invoice_id, submitted)
    assert invoice.chorus_invoice_id is not None
    for status in ("EN_COURS_ACHEMINEMENT", "MISE_A_DISPOSITION", "MANDATEE"):
        await move(emulator, invoice.chorus_invoice_id, status)
    await drain(worker, sessionmaker, invoice_id, lambda i: i.chorus_status == "MANDATEE")
    for _ in range(3):
        await worker.run_once()
        await asyncio.sleep(0.06)  # past the longest poll delay of the fast test settings
    item = await sync_item(sessionmaker)
    assert item.state == ("done" if not_reported else "pending")
