"""Writing a new invoice: which transaction its rows belong to.

A plain JSON invoice on PostgreSQL is written by one statement that is its own transaction
(no BEGIN/COMMIT round trips), so it is stored even if the caller's session then rolls back;
everywhere else the rows belong to the caller's unit of work and a rollback takes them away.
"""

from __future__ import annotations

import json
from functools import partial

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.service import authenticate
from app.dependencies import read_supplier
from app.errors import GatewayError
from app.events.models import Event
from app.idempotency.models import IdempotencyRecord
from app.invoices import service
from app.invoices.models import Invoice, InvoiceLine
from app.invoices.uploads import UploadedFile
from app.outbox.models import OutboxItem
from app.settings import Settings
from tests.builders import ten_line_invoice
from tests.conftest import KeyFactory
from tests.formats.pdfs import blank_pdf

pytestmark = pytest.mark.usefixtures("registered_suppliers")


async def _submit_then_roll_back(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    make_key: KeyFactory,
    *,
    pdf: UploadedFile | None = None,
) -> str:
    """Submit one invoice with an Idempotency-Key, then roll the session back; its number."""
    headers = await make_key()
    async with sessionmaker() as session:
        caller = await authenticate(session, headers["Authorization"].removeprefix("Bearer "))
    assert caller is not None
    document = ten_line_invoice()
    async with sessionmaker() as session:
        submission = await service.submit_invoice(
            session,
            caller=caller,
            document=document,
            idempotency_key=f"key-{document['invoice_number']}",
            settings=settings.api,
            suppliers=partial(read_supplier, sessionmaker),
            pdf=pdf,
        )
        assert submission.status == 201, submission.body
        await session.rollback()
    return str(document["invoice_number"])


async def _stored(sessionmaker: async_sessionmaker[AsyncSession], number: str) -> list[int]:
    """How many invoices, lines, outbox rows and keys the invoice `number` left behind."""
    async with sessionmaker() as session:
        invoice_id = await session.scalar(
            select(Invoice.id).where(Invoice.invoice_number == number)
        )
        counts = [int(invoice_id is not None)]
        for model, column in (
            (InvoiceLine, InvoiceLine.invoice_id),
            (OutboxItem, OutboxItem.invoice_id),
        ):
            counts.append(
                await session.scalar(
                    select(func.count()).select_from(model).where(column == invoice_id)
                )
                or 0
            )
        counts.append(
            await session.scalar(
                select(func.count())
                .select_from(IdempotencyRecord)
                .where(IdempotencyRecord.key == f"key-{number}")
            )
            or 0
        )
    return counts


async def test_a_plain_invoice_on_postgresql_is_its_own_transaction(
    backend: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    make_key: KeyFactory,
) -> None:
    number = await _submit_then_roll_back(sessionmaker, settings, make_key)
    # All of it or nothing of it: the invoice, its 10 lines, its delivery and its key.
    expected = [1, 10, 1, 1] if backend == "postgresql" else [0, 0, 0, 0]
    assert await _stored(sessionmaker, number) == expected


async def test_an_invoice_with_more_rows_belongs_to_the_callers_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    make_key: KeyFactory,
) -> None:
    pdf = UploadedFile("invoice.pdf", blank_pdf())
    number = await _submit_then_roll_back(sessionmaker, settings, make_key, pdf=pdf)
    assert await _stored(sessionmaker, number) == [0, 0, 0, 0]


async def test_a_taken_key_leaves_nothing_of_the_second_invoice(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # On PostgreSQL the statement commits itself: it must write nothing when the key is taken.
    first, second = ten_line_invoice(), ten_line_invoice()
    headers = auth | {"Idempotency-Key": "one-key-two-invoices"}
    assert (await http.post("/v1/invoices", json=first, headers=headers)).status_code == 201
    reused = await http.post("/v1/invoices", json=second, headers=headers)
    assert reused.status_code == 422, reused.text
    async with sessionmaker() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(Invoice)
            .where(Invoice.invoice_number == second["invoice_number"])
        )
    assert stored == 0


@pytest.mark.parametrize("with_pdf", [False, True], ids=["json", "pdf"])
async def test_a_duplicate_sent_with_a_key_leaves_the_key_free(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
    with_pdf: bool,
) -> None:
    # The refused attempt is undone (its own statement, or a savepoint) and its key with it.
    invoice = ten_line_invoice()
    assert (await http.post("/v1/invoices", json=invoice, headers=auth)).status_code == 201
    headers = auth | {"Idempotency-Key": f"dup-{invoice['invoice_number']}"}
    if with_pdf:
        again = await http.post(
            "/v1/invoices",
            files={"file": ("facture.pdf", blank_pdf(), "application/pdf")},
            data={"invoice": json.dumps(invoice)},
            headers=headers,
        )
    else:
        again = await http.post("/v1/invoices", json=invoice, headers=headers)
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "DUPLICATE_INVOICE"
    async with sessionmaker() as session:
        keys = await session.scalar(
            select(func.count())
            .select_from(IdempotencyRecord)
            .where(IdempotencyRecord.key == headers["Idempotency-Key"])
        )
    assert keys == 0
    fresh = ten_line_invoice()
    reused = await http.post("/v1/invoices", json=fresh, headers=headers)
    assert reused.status_code == 201, reused.text


async def test_a_key_taken_at_insertion_leaves_nothing_of_the_invoice(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    make_key: KeyFactory,
) -> None:
    # The router replays a stored key before submitting; here the key is taken only by the
    # time the rows are written, as when another request with it stores it just before us.
    headers = await make_key()
    async with sessionmaker() as session:
        caller = await authenticate(session, headers["Authorization"].removeprefix("Bearer "))
    assert caller is not None
    submit = partial(
        service.submit_invoice,
        caller=caller,
        idempotency_key="taken-at-insertion",
        settings=settings.api,
        suppliers=partial(read_supplier, sessionmaker),
    )
    first, second = ten_line_invoice(), ten_line_invoice()
    async with sessionmaker() as session:
        assert (await submit(session, document=first)).status == 201
        await session.commit()
    before = await _row_counts(sessionmaker)
    async with sessionmaker() as session:
        with pytest.raises(GatewayError):
            await submit(session, document=second)
        await session.commit()
    assert await _row_counts(sessionmaker) == before


async def _row_counts(sessionmaker: async_sessionmaker[AsyncSession]) -> list[int]:
    async with sessionmaker() as session:
        return [
            await session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Invoice, InvoiceLine, Event, OutboxItem, IdempotencyRecord)
        ]
