"""SAISIE_API against a Chorus that numbers those invoices itself (the emulator's default).

A search by the gateway's number cannot find such an invoice, so an attempt that may have
landed is never resent by the gateway: the invoice fails with AMBIGUOUS_DELIVERY for an
operator to decide. Attempts proven not to have reached Chorus are retried as usual.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.outbox.models import OutboxItem
from app.outbox.worker import Worker
from app.settings import Settings
from tests.support.delivery import (
    Deliver,
    Post,
    chorus_invoices,
    drain,
    fail_soumettre_twice,
    faults,
    settled,
    submitted,
    with_chorus,
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return with_chorus(settings, delivery_format="saisie")


async def test_chorus_numbers_the_invoice_and_the_gateway_shows_that_number(
    deliver: Deliver,
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    emulator: httpx.AsyncClient,
) -> None:
    invoice = await deliver(submitted, invoice_number="FA-2026-0100")
    [recorded] = await chorus_invoices(emulator)
    assert recorded["sender_number"] == "FA-2026-0100"
    assert recorded["number"] != "FA-2026-0100"
    assert invoice.chorus_invoice_number == recorded["number"]
    answer = (await gateway.get(f"/v1/invoices/{invoice.id}", headers=auth)).json()
    assert answer["chorus"]["channel"] == "saisie"
    assert answer["chorus"]["syntax"] == "SAISIE_API"
    assert answer["chorus"]["number"] == recorded["number"]
    assert answer["invoice_number"] == "FA-2026-0100"


@pytest.mark.parametrize("kind", ["commit_then_drop", "http_500"])
async def test_an_uncertain_attempt_is_never_resent_but_failed_as_ambiguous(
    deliver: Deliver,
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    worker: Worker,
    emulator: httpx.AsyncClient,
    kind: str,
) -> None:
    await faults(emulator, {"endpoint": "factures/v1/soumettre", "kind": kind, "next_n": 1})
    invoice = await deliver(settled)
    assert invoice.status == "failed"
    assert invoice.failure_code == "AMBIGUOUS_DELIVERY"
    landed = 1 if kind == "commit_then_drop" else 0
    assert len(await chorus_invoices(emulator)) == landed
    for _ in range(5):  # nothing more happens by itself
        await worker.run_once()
    assert len(await chorus_invoices(emulator)) == landed
    answer = (await gateway.get(f"/v1/invoices/{invoice.id}", headers=auth)).json()
    assert answer["failure"]["code"] == "AMBIGUOUS_DELIVERY"
    assert "check Chorus Pro" in answer["failure"]["detail"]


@pytest.mark.parametrize("kind", ["http_429", "http_503"])
async def test_attempts_proven_unsent_are_retried_and_land_once(
    deliver: Deliver,
    emulator: httpx.AsyncClient,
    kind: str,
) -> None:
    await fail_soumettre_twice(emulator, kind)
    invoice = await deliver(settled)
    assert invoice.status == "submitted", invoice.history[-1].detail
    assert len(await chorus_invoices(emulator)) == 1


async def claimed_by_a_killed_worker(
    sessionmaker: async_sessionmaker[AsyncSession], invoice_id: str, **values: Any
) -> None:
    """The invoice's delivery item as a killed worker left it: claimed, its attempt counted."""
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(OutboxItem)
            .where(OutboxItem.invoice_id == invoice_id)
            .values(attempts=1, **values)
        )


async def test_an_attempt_killed_during_soumettre_makes_the_next_one_ambiguous(
    post: Post,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    """A worker killed mid-call leaves its claim counted, its sending mark, and no outcome."""
    invoice_id = await post()
    await claimed_by_a_killed_worker(sessionmaker, invoice_id, payload={"sending": 1})
    invoice = await drain(worker, sessionmaker, invoice_id, settled)
    assert invoice.status == "failed"
    assert invoice.failure_code == "AMBIGUOUS_DELIVERY"
    assert await chorus_invoices(emulator) == []


async def test_a_claim_killed_before_its_call_is_simply_sent(
    post: Post,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    """A killed worker's batch: items claimed (attempt counted) whose call never started."""
    invoice_id = await post()
    await claimed_by_a_killed_worker(sessionmaker, invoice_id)
    invoice = await drain(worker, sessionmaker, invoice_id, settled)
    assert invoice.status == "submitted", invoice.history[-1].detail
    assert len(await chorus_invoices(emulator)) == 1


async def test_a_failing_search_never_makes_an_invoice_ambiguous(
    deliver: Deliver,
    emulator: httpx.AsyncClient,
) -> None:
    """Chorus's number is not ours: the gateway does not search, so a search fault is moot."""
    await faults(
        emulator,
        {"endpoint": "factures/v1/soumettre", "kind": "http_503", "next_n": 1},
        {"endpoint": "factures/v1/rechercher/fournisseur", "kind": "http_500"},
    )
    invoice = await deliver(settled)
    assert invoice.status == "submitted", invoice.history[-1].detail
    assert len(await chorus_invoices(emulator)) == 1


async def test_an_operator_who_checked_chorus_can_send_an_ambiguous_invoice_again(
    deliver: Deliver,
    gateway: httpx.AsyncClient,
    operator: dict[str, str],
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    await faults(emulator, {"endpoint": "factures/v1/soumettre", "kind": "http_500", "next_n": 1})
    invoice = await deliver(lambda i: i.status == "failed")
    assert await chorus_invoices(emulator) == []  # what the operator sees in Chorus
    response = await gateway.post(f"/v1/invoices/{invoice.id}/retry", headers=operator)
    assert response.status_code == 200, response.text
    assert response.json()["failure"] is None
    invoice = await drain(worker, sessionmaker, invoice.id, submitted)
    assert invoice.failure_code is None
    assert len(await chorus_invoices(emulator)) == 1
    async with sessionmaker() as session:
        items = (
            await session.scalars(select(OutboxItem).where(OutboxItem.invoice_id == invoice.id))
        ).all()
    assert len(items) >= 2
