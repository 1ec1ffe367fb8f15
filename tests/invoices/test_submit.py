"""POST /v1/invoices and /v1/invoices/validate over the real app and database."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.invoices.models import Invoice, InvoiceLine, InvoiceStatusChange
from app.outbox.models import OutboxItem
from tests.builders import STATE_SIRET, invoice_payload, ten_line_invoice

pytestmark = pytest.mark.usefixtures("registered_suppliers")

PROBLEM = "application/problem+json"


async def count(sessionmaker: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_valid_invoice_is_stored_queued_with_its_outbox_row(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    payload = invoice_payload(
        supplier={"siret": "412 345 670 10000", "name": "ACME"},
        buyer={"siret": "110 002 011 000 44", "service_code": "sfacetat"},
    )
    response = await http.post("/v1/invoices", json=payload, headers=auth)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "queued"
    assert body["id"].startswith("inv_")
    assert response.headers["location"] == f"/v1/invoices/{body['id']}"
    assert body["supplier"]["siret"] == "41234567010000"
    assert body["buyer"] == {
        "siret": STATE_SIRET,
        "service_code": "SFACETAT",
        "name": None,
        "address": None,
    }
    assert body["totals"] == {"net": "200.00", "vat": "40.00", "gross": "240.00"}
    assert body["chorus"]["invoice_id"] is None
    assert [h["status"] for h in body["history"]] == ["queued"]
    async with sessionmaker() as session:
        item = await session.scalar(select(OutboxItem).where(OutboxItem.kind == "invoice.deliver"))
    assert item is not None
    assert item.invoice_id == body["id"]
    assert item.kind == "invoice.deliver"
    assert item.state == "pending"


async def test_totals_are_computed_when_the_erp_omits_them(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await http.post("/v1/invoices", json=ten_line_invoice(), headers=auth)
    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["lines"]) == 10
    assert body["totals"] == {"net": "678.70", "vat": "135.74", "gross": "814.44"}


async def test_a_broken_invoice_lists_every_problem_and_stores_nothing(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    payload = invoice_payload(
        invoice_number="",
        legal_commitment=None,
        buyer={"siret": STATE_SIRET, "service_code": "FACTURES_PUBLIQUES"},
        supplier={"siret": "41234567010001"},
        issue_date="not a date",
        totals={"net": "1.00", "vat": "0.20", "gross": "1.20"},
        colour="blue",
    )
    response = await http.post("/v1/invoices", json=payload, headers=auth)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422
    found = {(e["field"], e["code"]) for e in problem["errors"]}
    assert found >= {
        ("invoice_number", "INVOICE_NUMBER_INVALID"),
        ("legal_commitment", "EJ_REQUIRED"),
        ("buyer.service_code", "SE_INVALID"),
        ("supplier.siret", "SIRET_INVALID"),
        ("issue_date", "FIELD_INVALID"),
        ("totals.net", "TOTALS_MISMATCH"),
        ("colour", "FIELD_INVALID"),
    }
    assert all(e["message"] for e in problem["errors"])
    assert await count(sessionmaker, Invoice) == 0
    assert await count(sessionmaker, OutboxItem) == 0


async def test_validate_answers_the_normalized_invoice_and_stores_nothing(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    payload = invoice_payload(buyer={"siret": "110 002 011 000 44", "service_code": " sfacetat"})
    del payload["totals"]
    response = await http.post("/v1/invoices/validate", json=payload, headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["valid"] is True
    assert body["validation"] == {"mode": "offline"}
    assert body["invoice"]["buyer"]["siret"] == STATE_SIRET
    assert body["invoice"]["buyer"]["service_code"] == "SFACETAT"
    assert body["invoice"]["totals"] == {"net": "200.00", "vat": "40.00", "gross": "240.00"}
    assert await count(sessionmaker, Invoice) == 0


async def test_validate_reports_the_same_422(http: httpx.AsyncClient, auth: dict[str, str]) -> None:
    response = await http.post(
        "/v1/invoices/validate", json=invoice_payload(legal_commitment=None), headers=auth
    )
    assert response.status_code == 422
    assert [e["code"] for e in response.json()["errors"]] == ["EJ_REQUIRED"]


async def test_posting_for_a_supplier_the_client_does_not_hold_is_refused(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    payload = invoice_payload(supplier={"siret": "52345678810009", "name": "Autre"})
    response = await http.post("/v1/invoices", json=payload, headers=auth)
    assert response.status_code == 422
    assert {(e["field"], e["code"]) for e in response.json()["errors"]} == {
        ("supplier.siret", "SUPPLIER_NOT_ALLOWED")
    }


async def test_an_invoice_already_stored_is_a_409_naming_it(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    payload = invoice_payload()
    first = await http.post("/v1/invoices", json=payload, headers=auth)
    again = await http.post("/v1/invoices", json=payload, headers=auth)
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    assert again.json()["code"] == "DUPLICATE_INVOICE"
    assert again.json()["existing_invoice_id"] == first.json()["id"]
    assert await count(sessionmaker, Invoice) == 1


async def test_the_same_number_as_a_credit_note_is_another_invoice(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    payload = invoice_payload()
    await http.post("/v1/invoices", json=payload, headers=auth)
    credit_note = {**payload, "type": "credit_note", "preceding_invoice": payload["invoice_number"]}
    response = await http.post("/v1/invoices", json=credit_note, headers=auth)
    assert response.status_code == 201, response.text
    assert response.json()["type"] == "credit_note"


async def test_lines_history_and_outbox_are_written_together(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await http.post("/v1/invoices", json=ten_line_invoice(), headers=auth)
    assert await count(sessionmaker, Invoice) == 1
    assert await count(sessionmaker, InvoiceLine) == 10
    assert await count(sessionmaker, InvoiceStatusChange) == 1
    async with sessionmaker() as session:
        kinds = (await session.scalars(select(OutboxItem.kind).order_by(OutboxItem.kind))).all()
    assert kinds == ["event.fan_out", "invoice.deliver"]
