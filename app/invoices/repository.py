"""Queries on invoices; no commits here (the unit of work owns those)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.invoices.models import Invoice, InvoiceAttachment, InvoiceDocument


@dataclass(frozen=True, slots=True)
class InvoiceFilter:
    """What a list request may narrow by; `visible_suppliers` None means every supplier."""

    visible_suppliers: frozenset[str] | None
    status: str | None = None
    supplier_siret: str | None = None
    invoice_number: str | None = None
    before_id: str | None = None


def _with_children(query: Select[Invoice]) -> Select[Invoice]:
    return query.options(selectinload(Invoice.lines), selectinload(Invoice.history))


async def get(session: AsyncSession, invoice_id: str, *, fresh: bool = False) -> Invoice | None:
    """The invoice with its lines and history (`fresh`: reload what the session holds)."""
    query = _with_children(select(Invoice).where(Invoice.id == invoice_id))
    if fresh:
        query = query.execution_options(populate_existing=True)
    return await session.scalar(query)


async def find_id_by_natural_key(
    session: AsyncSession, supplier_siret: str, invoice_number: str, invoice_type: str
) -> str | None:
    """The id of the invoice with this supplier, number and type, if any."""
    return await session.scalar(
        select(Invoice.id).where(
            Invoice.supplier_siret == supplier_siret,
            Invoice.invoice_number == invoice_number,
            Invoice.type == invoice_type,
        )
    )


async def list_page(session: AsyncSession, where: InvoiceFilter, limit: int) -> Sequence[Invoice]:
    """Up to `limit` invoices, newest first (ids are time-ordered), after the cursor."""
    query = select(Invoice)
    if where.visible_suppliers is not None:
        query = query.where(Invoice.supplier_siret.in_(sorted(where.visible_suppliers)))
    if where.status is not None:
        query = query.where(Invoice.status == where.status)
    if where.supplier_siret is not None:
        query = query.where(Invoice.supplier_siret == where.supplier_siret)
    if where.invoice_number is not None:
        query = query.where(Invoice.invoice_number == where.invoice_number)
    if where.before_id is not None:
        query = query.where(Invoice.id < where.before_id)
    query = _with_children(query.order_by(Invoice.id.desc()).limit(limit))
    return (await session.scalars(query)).all()


@dataclass(frozen=True, slots=True)
class Extras:
    """What an invoice's answer says of its PDF's signature and its attachments."""

    signed: bool = False
    signer: str | None = None
    signed_at: datetime | None = None
    attachments: int = 0


NO_EXTRAS = Extras()


async def extras(session: AsyncSession, invoice_ids: Sequence[str]) -> dict[str, Extras]:
    """The signature and attachment count of these invoices, without reading any content."""
    if not invoice_ids:
        return {}
    ids = list(invoice_ids)
    signed = {
        row.invoice_id: row
        for row in await session.execute(
            select(
                InvoiceDocument.invoice_id,
                InvoiceDocument.signer,
                InvoiceDocument.signed_at,
            ).where(InvoiceDocument.invoice_id.in_(ids), InvoiceDocument.signed.is_(True))
        )
    }
    counts: dict[str, int] = {
        invoice_id: count
        for invoice_id, count in await session.execute(
            select(InvoiceAttachment.invoice_id, func.count())
            .where(InvoiceAttachment.invoice_id.in_(ids))
            .group_by(InvoiceAttachment.invoice_id)
        )
    }
    return {
        invoice_id: Extras(
            signed=invoice_id in signed,
            signer=signed[invoice_id].signer if invoice_id in signed else None,
            signed_at=signed[invoice_id].signed_at if invoice_id in signed else None,
            attachments=counts.get(invoice_id, 0),
        )
        for invoice_id in ids
    }


async def attachments(session: AsyncSession, invoice_id: str) -> tuple[InvoiceAttachment, ...]:
    """Every supporting document of an invoice, with its bytes, in order (for delivery)."""
    rows = await session.scalars(
        select(InvoiceAttachment)
        .where(InvoiceAttachment.invoice_id == invoice_id)
        .order_by(InvoiceAttachment.position)
    )
    return tuple(rows)
