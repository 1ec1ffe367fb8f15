"""Delivering with `soumettre` to the emulator over real HTTP: every outcome class of
reliability.md.

These run the `saisie` channel against an emulator that keeps the sender's number (as Chorus
does for DEPOT_PDF_API, and as the reconciliation by number needs); test_saisie_delivery.py
covers a Chorus that numbers SAISIE_API invoices itself, test_flux_delivery.py the flux.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.chorus.accounts import TechnicalAccount
from app.events.models import Event
from app.invoices import repository
from app.invoices.chorus_mapping import to_submit_request
from app.outbox.models import OutboxItem
from app.outbox.worker import Worker
from app.resources import Resources
from app.settings import Settings
from app.structures.models import SupplierStructure
from tests.builders import STATE_SIRET, SUPPLIER_SIRET
from tests.support.delivery import (
    ACME_LOGIN,
    ACME_PASSWORD,
    Deliver,
    Post,
    drain,
    fail_soumettre_twice,
    faults,
    pdf_only_invoice,
    post_multipart,
    settled,
    submitted,
    with_chorus,
)
from tests.support.emulators import sender_numbering_emulator  # noqa: F401 - a fixture, served_emulator


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return with_chorus(settings, delivery_format="saisie", saisie_keeps_number=True)


async def received(emulator: httpx.AsyncClient) -> dict[str, Any]:
    body: dict[str, Any] = (await emulator.get("/_emulator/invoices")).json()
    return body


async def event_types(sessionmaker: async_sessionmaker[AsyncSession], invoice_id: str) -> list[str]:
    async with sessionmaker() as session:
        return list(
            (
                await session.scalars(
                    select(Event.type).where(Event.invoice_id == invoice_id).order_by(Event.seq)
                )
            ).all()
        )


async def acme_structure(sessionmaker: async_sessionmaker[AsyncSession]) -> SupplierStructure:
    async with sessionmaker() as session:
        structure = await session.get(SupplierStructure, SUPPLIER_SIRET)
    assert structure is not None
    return structure


async def delivery_item(
    sessionmaker: async_sessionmaker[AsyncSession], invoice_id: str
) -> OutboxItem:
    async with sessionmaker() as session:
        item = await session.scalar(select(OutboxItem).where(OutboxItem.invoice_id == invoice_id))
    assert item is not None
    return item


async def test_a_queued_invoice_becomes_submitted_with_chorus_ids(
    deliver: Deliver,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    invoice = await deliver(submitted)
    truth = await received(emulator)
    assert truth["total"] == 1
    assert invoice.chorus_invoice_id == truth["invoices"][0]["id"]
    assert invoice.chorus_status == "DEPOSEE"
    assert [h.status for h in invoice.history] == ["queued", "submitted"]
    assert "invoice.submitted" in await event_types(sessionmaker, invoice.id)
    async with sessionmaker() as session:
        structure = await session.get(SupplierStructure, invoice.supplier_siret)
        sync = await session.scalar(select(OutboxItem).where(OutboxItem.kind == "invoice.sync"))
    assert structure is not None
    assert structure.chorus_structure_id == 26000101
    assert sync is not None


async def test_a_refusal_is_rejected_with_chorus_code_and_label(
    deliver: Deliver, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    invoice = await deliver(
        lambda i: i.status == "rejected", buyer={"siret": STATE_SIRET, "service_code": "SFACANCIEN"}
    )
    assert invoice.chorus_rejection is not None
    assert invoice.chorus_rejection["code"] == "20302"
    assert invoice.chorus_rejection["label"]
    assert "invoice.rejected" in await event_types(sessionmaker, invoice.id)


@pytest.mark.parametrize("kind", ["http_500", "http_502", "http_503", "http_429"])
async def test_transient_failures_are_retried_then_delivered_once(
    deliver: Deliver,
    emulator: httpx.AsyncClient,
    kind: str,
) -> None:
    await fail_soumettre_twice(emulator, kind)
    invoice = await deliver(submitted)
    truth = await received(emulator)
    assert truth["total"] == 1
    assert truth["duplicates_refused"] == 0
    assert invoice.chorus_invoice_id == truth["invoices"][0]["id"]


async def test_a_committed_then_dropped_answer_is_reconciled_not_resent(
    deliver: Deliver,
    emulator: httpx.AsyncClient,
) -> None:
    await faults(
        emulator, {"endpoint": "factures/v1/soumettre", "kind": "commit_then_drop", "next_n": 1}
    )
    invoice = await deliver(submitted)
    truth = await received(emulator)
    assert truth["total"] == 1
    assert truth["duplicates_refused"] == 0
    assert invoice.chorus_invoice_id == truth["invoices"][0]["id"]
    assert invoice.history[-1].detail == "found in Chorus Pro after an uncertain attempt"


async def test_reconciling_against_a_search_answering_20000_resends_never_rejects(
    deliver: Deliver,
    emulator: httpx.AsyncClient,
) -> None:
    """The emulator answers an empty search with codeRetour 20000 (its default): "not found"."""
    await faults(emulator, {"endpoint": "factures/v1/soumettre", "kind": "http_500", "next_n": 1})
    invoice = await deliver(settled)
    assert invoice.status == "submitted", invoice.chorus_rejection
    truth = await received(emulator)
    assert truth["total"] == 1
    assert invoice.chorus_invoice_id == truth["invoices"][0]["id"]
    stats = (await emulator.get("/_emulator/stats")).json()
    assert stats["calls"]["factures/v1/rechercher/fournisseur"] >= 1


async def test_a_lookup_chorus_refuses_is_retried_never_a_rejection(
    post: Post,
    worker: Worker,
    resources: Resources,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    """Only soumettre's refusal rejects an invoice; a search's refusal says nothing about it."""
    resources.chorus.no_result_codes = frozenset()  # so the empty search's 20000 is a refusal
    await faults(emulator, {"endpoint": "factures/v1/soumettre", "kind": "http_500", "next_n": 1})
    invoice_id = await post()
    deadline = time.monotonic() + 5
    while True:
        await worker.run_once()
        async with sessionmaker() as session:
            invoice = await repository.get(session, invoice_id)
            item = await session.scalar(
                select(OutboxItem).where(OutboxItem.invoice_id == invoice_id)
            )
        assert item is not None
        if invoice is None or invoice.status != "queued" or item.attempts >= 3:
            break
        assert time.monotonic() < deadline, item.last_error
        await asyncio.sleep(0.01)
    assert invoice is not None
    assert invoice.status == "queued"
    assert item is not None
    assert item.state == "pending"
    assert item.last_error is not None
    assert "rechercher/fournisseur" in item.last_error
    assert (await received(emulator))["total"] == 0


async def test_a_read_timeout_is_ambiguous_and_reconciled(
    deliver: Deliver,
    emulator: httpx.AsyncClient,
) -> None:
    await faults(
        emulator,
        {
            "endpoint": "factures/v1/soumettre",
            "kind": "read_timeout",
            "next_n": 1,
            "delay_ms": 2000,
        },
    )
    await deliver(submitted)
    assert (await received(emulator))["total"] == 1


async def test_a_duplicate_refusal_adopts_the_invoice_chorus_already_has(
    post: Post,
    worker: Worker,
    resources: Resources,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    """Chorus has the number from an attempt the gateway never heard of: adopt, never reject."""
    invoice_id = await post()
    async with sessionmaker() as session:
        invoice = await repository.get(session, invoice_id)
    assert invoice is not None
    account = TechnicalAccount(login=ACME_LOGIN, password=ACME_PASSWORD)
    earlier = await resources.chorus.submit_invoice(
        account, to_submit_request(invoice, supplier_structure_id=26000101)
    )
    adopted = await drain(worker, sessionmaker, invoice_id, submitted)
    truth = await received(emulator)
    assert truth["total"] == 1
    assert truth["duplicates_refused"] == 1
    assert adopted.chorus_invoice_id == earlier.identifiantFactureCPP


async def test_persistent_auth_failures_pause_the_structure(
    post: Post,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    await emulator.post(f"/_emulator/accounts/{ACME_LOGIN}/password", json={"password": "changed"})
    invoice_id = await post()
    await worker.run_once()
    assert (await acme_structure(sessionmaker)).paused_at is not None
    item = await delivery_item(sessionmaker, invoice_id)
    assert item.state == "pending"
    assert item.attempts == 0  # pausing does not burn the retry budget
    assert (await received(emulator))["total"] == 0


@pytest.mark.parametrize(
    "burst",
    [
        {"endpoint": "factures/v1/soumettre", "kind": "http_401", "next_n": 3},
        {"endpoint": "*", "kind": "http_401", "next_n": 3},
        {"endpoint": "oauth/token", "kind": "token_invalid_client", "next_n": 2},
    ],
    ids=["401-on-soumettre", "401-anywhere", "token-invalid-client"],
)
async def test_a_transient_burst_of_auth_refusals_never_pauses_the_structure(
    deliver: Deliver,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
    burst: dict[str, Any],
) -> None:
    await faults(emulator, burst)
    invoice = await deliver(settled)
    assert (await acme_structure(sessionmaker)).paused_at is None
    assert invoice.status == "submitted"
    assert (await received(emulator))["total"] == 1


async def test_a_persistent_401_still_pauses_the_structure(
    post: Post,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    await faults(emulator, {"endpoint": "factures/v1/soumettre", "kind": "http_401"})
    invoice_id = await post()
    await worker.run_once()
    assert (await acme_structure(sessionmaker)).paused_at is not None
    item = await delivery_item(sessionmaker, invoice_id)
    assert item.attempts == 0
    assert (await received(emulator))["total"] == 0


async def test_retries_exhausted_make_the_invoice_failed(
    deliver: Deliver,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    await faults(emulator, {"endpoint": "factures/v1/soumettre", "kind": "http_503"})
    invoice = await deliver(lambda i: i.status == "failed")
    assert invoice.history[-1].status == "failed"
    assert "invoice.failed" in await event_types(sessionmaker, invoice.id)
    assert (await received(emulator))["total"] == 0


async def test_without_a_technical_account_delivery_waits(
    post: Post, worker: Worker, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # Accepted while the structure was registered, which then went away.
    invoice_id = await post()
    async with sessionmaker() as session, session.begin():
        structure = await session.get(SupplierStructure, SUPPLIER_SIRET)
        assert structure is not None
        await session.delete(structure)
    await worker.run_once()
    item = await delivery_item(sessionmaker, invoice_id)
    assert item.state == "pending"
    assert item.last_error is not None
    assert "no technical account" in item.last_error


async def test_an_operator_retries_a_failed_invoice_and_it_lands_once(
    deliver: Deliver,
    worker: Worker,
    gateway: httpx.AsyncClient,
    operator: dict[str, str],
    auth: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    # The first attempt lands in Chorus but its answer is lost; every search then fails, so
    # the budget runs out without the gateway knowing.
    await faults(
        emulator,
        {"endpoint": "factures/v1/soumettre", "kind": "commit_then_drop", "next_n": 1},
        {"endpoint": "factures/v1/rechercher/fournisseur", "kind": "http_503"},
    )
    invoice = await deliver(lambda i: i.status == "failed")
    await emulator.delete("/_emulator/faults")
    assert (await gateway.post(f"/v1/invoices/{invoice.id}/retry", headers=auth)).status_code == 403
    response = await gateway.post(f"/v1/invoices/{invoice.id}/retry", headers=operator)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "queued"
    assert [h["status"] for h in response.json()["history"]][-2:] == ["failed", "queued"]
    invoice = await drain(worker, sessionmaker, invoice.id, submitted)
    truth = await received(emulator)
    assert truth["total"] == 1  # the landed attempt was adopted, not sent again
    assert invoice.chorus_invoice_id == truth["invoices"][0]["id"]
    again = await gateway.post(f"/v1/invoices/{invoice.id}/retry", headers=operator)
    assert again.status_code == 409
    assert again.json()["code"] == "INVOICE_NOT_FAILED"


async def test_a_pdf_invoice_is_uploaded_then_deposited(
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    pdf = b"%PDF-1.4\n%%EOF\n"
    created = await post_multipart(gateway, auth, pdf_only_invoice(), pdf=pdf)
    await drain(worker, sessionmaker, created["id"], submitted)
    [recorded] = (await received(emulator))["invoices"]
    assert recorded["mode"] == "DEPOT_PDF_API"
