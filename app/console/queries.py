"""Read-only queries the console needs and the API has not: dashboard counts, the hourly chart,
the invoice list with the console's filters, an invoice's outbox work and events.

Each is bounded (a LIMIT or a time window along the time-ordered id) so a large database costs
the console the same as a small one. Visibility: `suppliers` None means every supplier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.console.labels import PARIS
from app.events.models import Event
from app.events.work import EventWork
from app.invoices.models import (
    DepositedDocument,
    Invoice,
    InvoiceAttachment,
    InvoiceDocument,
    InvoiceStatusChange,
)
from app.outbox.models import OutboxItem

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHART_HOURS = 48
# The chart reads at most this many timestamps per series (more: the busiest hours saturate).
CHART_ROW_CAP = 200_000
PAGE_SIZE = 25


def id_floor(prefix: str, at: datetime) -> str:
    """The smallest id created at or after `at` (ids are ULIDs: 48-bit milliseconds first)."""
    value = int(at.timestamp() * 1000) << 80
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return prefix + "".join(reversed(chars))


async def counts_since(
    session: AsyncSession, since: datetime, suppliers: frozenset[str] | None
) -> dict[str, int]:
    """Invoices created since `since`, by gateway status (along the primary key)."""
    query = (
        select(Invoice.status, func.count())
        .where(Invoice.id >= id_floor("inv_", since))
        .group_by(Invoice.status)
    )
    if suppliers is not None:
        query = query.where(Invoice.supplier_siret.in_(sorted(suppliers)))
    rows = (await session.execute(query)).all()
    return {status: int(count) for status, count in rows}


def windows(now: datetime) -> dict[str, datetime]:
    """Today (Paris midnight), 7 and 30 days back."""
    midnight = datetime.combine(now.astimezone(PARIS).date(), time(0), tzinfo=PARIS)
    return {"today": midnight, "7d": now - timedelta(days=7), "30d": now - timedelta(days=30)}


@dataclass(frozen=True, slots=True)
class HourlySeries:
    """Invoices accepted (stored) and delivered (accepted by Chorus) per hour, oldest first."""

    start: datetime
    accepted: list[int]
    delivered: list[int]


async def hourly(
    session: AsyncSession, now: datetime, suppliers: frozenset[str] | None
) -> HourlySeries:
    """The last 48 whole hours up to this one."""
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=CHART_HOURS - 1)
    accepted_query = (
        select(Invoice.created_at).where(Invoice.id >= id_floor("inv_", start)).limit(CHART_ROW_CAP)
    )
    if suppliers is not None:
        accepted_query = accepted_query.where(Invoice.supplier_siret.in_(sorted(suppliers)))
    delivered_query = (
        select(InvoiceStatusChange.at)
        .join(Invoice, Invoice.id == InvoiceStatusChange.invoice_id)
        .where(
            InvoiceStatusChange.status == "submitted",
            InvoiceStatusChange.at >= start,
            # Delivered invoices were stored within the sync window; the id bound uses the index.
            Invoice.id >= id_floor("inv_", start - timedelta(days=30)),
        )
        .limit(CHART_ROW_CAP)
    )
    if suppliers is not None:
        delivered_query = delivered_query.where(Invoice.supplier_siret.in_(sorted(suppliers)))
    accepted = [0] * CHART_HOURS
    delivered = [0] * CHART_HOURS
    for series, query in ((accepted, accepted_query), (delivered, delivered_query)):
        for at in (await session.scalars(query)).all():
            slot = int((at - start).total_seconds() // 3600)
            if 0 <= slot < CHART_HOURS:
                series[slot] += 1
    return HourlySeries(start, accepted, delivered)


@dataclass(frozen=True, slots=True)
class InvoiceSearch:
    """The console's invoice filters (all optional) and page."""

    status: str | None = None
    supplier_siret: str | None = None
    buyer_siret: str | None = None
    invoice_number: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1


@dataclass(frozen=True, slots=True)
class InvoiceRows:
    """One page of invoices, newest first."""

    rows: Sequence[Invoice]
    page: int
    has_next: bool


async def search_invoices(
    session: AsyncSession, search: InvoiceSearch, suppliers: frozenset[str] | None
) -> InvoiceRows:
    """Invoices matching every filter given; dates are issue dates, bounds included."""
    query = select(Invoice)
    if suppliers is not None:
        query = query.where(Invoice.supplier_siret.in_(sorted(suppliers)))
    if search.status:
        query = query.where(Invoice.status == search.status)
    if search.supplier_siret:
        query = query.where(Invoice.supplier_siret == search.supplier_siret)
    if search.buyer_siret:
        query = query.where(Invoice.buyer_siret == search.buyer_siret)
    if search.invoice_number:
        query = query.where(Invoice.invoice_number == search.invoice_number)
    if search.date_from:
        query = query.where(Invoice.issue_date >= search.date_from)
    if search.date_to:
        query = query.where(Invoice.issue_date <= search.date_to)
    offset = (search.page - 1) * PAGE_SIZE
    query = query.order_by(Invoice.id.desc()).offset(offset).limit(PAGE_SIZE + 1)
    rows = (await session.scalars(query)).all()
    return InvoiceRows(rows[:PAGE_SIZE], search.page, len(rows) > PAGE_SIZE)


async def outbox_items(session: AsyncSession, invoice_id: str) -> Sequence[OutboxItem]:
    """The invoice's delivery and sync work, oldest first."""
    return (
        await session.scalars(
            select(OutboxItem)
            .where(OutboxItem.invoice_id == invoice_id)
            .order_by(OutboxItem.id)
            .limit(100)
        )
    ).all()


async def invoice_events(session: AsyncSession, invoice_id: str) -> Sequence[Event]:
    """The invoice's events, in the order they were written."""
    return (
        await session.scalars(
            select(Event).where(Event.invoice_id == invoice_id).order_by(Event.seq).limit(200)
        )
    ).all()


@dataclass(frozen=True, slots=True)
class Downloads:
    """What can be downloaded for an invoice."""

    pdf: str | None
    deposited: str | None
    attachments: Sequence[tuple[int, str]]


async def downloads(session: AsyncSession, invoice_id: str) -> Downloads:
    """File names of the PDF, the deposited document and the attachments, without their bytes."""
    pdf = await session.scalar(
        select(InvoiceDocument.filename).where(InvoiceDocument.invoice_id == invoice_id)
    )
    deposited = await session.scalar(
        select(DepositedDocument.filename).where(DepositedDocument.invoice_id == invoice_id)
    )
    attachments = (
        await session.execute(
            select(InvoiceAttachment.position, InvoiceAttachment.filename)
            .where(InvoiceAttachment.invoice_id == invoice_id)
            .order_by(InvoiceAttachment.position)
        )
    ).all()
    return Downloads(pdf, deposited, [(int(p), str(f)) for p, f in attachments])


async def recent_webhook_deliveries(session: AsyncSession, limit: int = 50) -> Sequence[OutboxItem]:
    """The latest webhook deliveries (their payload names the subscription and the event)."""
    return (
        await session.scalars(
            select(OutboxItem)
            .where(OutboxItem.kind == EventWork.DELIVER_WEBHOOK)
            .order_by(OutboxItem.id.desc())
            .limit(limit)
        )
    ).all()


async def last_chorus_status(
    session: AsyncSession, now: datetime, suppliers: frozenset[str] | None
) -> Invoice | None:
    """The invoice of the last 30 days whose Chorus status changed last."""
    query = (
        select(Invoice)
        .where(
            Invoice.id >= id_floor("inv_", now - timedelta(days=30)),
            Invoice.chorus_status_at.is_not(None),
        )
        .order_by(Invoice.chorus_status_at.desc())
        .limit(1)
    )
    if suppliers is not None:
        query = query.where(Invoice.supplier_siret.in_(sorted(suppliers)))
    return await session.scalar(query)
