"""Queries on invoices; no commits here (the unit of work owns those)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.invoices.models import Invoice


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
