"""Status changes of an invoice: history, events and follow-up work in the caller's transaction.

Every function here is an `apply` the worker runs in its lease-checked transaction (or the API in
its unit of work), so a status, its history line, its event and the next outbox item commit
together or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utc_now
from app.domain.lifecycle import InvoiceStatus, status_for_chorus
from app.events.service import record_event
from app.events.types import EventType
from app.invoices.models import DepositedDocument, Invoice, InvoiceStatusChange
from app.invoices.work import InvoiceWork
from app.outbox.models import OutboxItem
from app.outbox.service import enqueue


@dataclass(frozen=True, slots=True)
class ChorusChange:
    """One step of Chorus's lifecycle, with its comment (a rejection or suspension reason)."""

    code: str
    at: datetime | None
    comment: str | None


# In a session's `info`: the ids of the invoices `lock_invoices` locked and read.
_LOCKED = "locked_invoices"


async def lock_invoices(session: AsyncSession, items: Sequence[OutboxItem]) -> None:
    """Lock and read, in one query, the invoices of a group of outbox items whose outcomes are
    recorded together; the changes below then take them from the session without a query."""
    ids = sorted({item.invoice_id for item in items if item.invoice_id is not None})
    if not ids:
        return
    # Id order: two transactions locking the same invoices cannot deadlock on each other.
    locked = await session.scalars(
        select(Invoice).where(Invoice.id.in_(ids)).order_by(Invoice.id).with_for_update()
    )
    session.info[_LOCKED] = {invoice.id for invoice in locked}


async def _load(session: AsyncSession, invoice_id: str) -> Invoice:
    invoice: Invoice | None
    if invoice_id in session.info.get(_LOCKED, ()):
        invoice = await session.get(Invoice, invoice_id)
    else:
        invoice = await session.scalar(
            select(Invoice).where(Invoice.id == invoice_id).with_for_update()
        )
    if invoice is None:
        raise LookupError(f"invoice {invoice_id} vanished")
    return invoice


def _history(
    session: AsyncSession,
    invoice: Invoice,
    status: InvoiceStatus,
    *,
    chorus_status: str | None = None,
    detail: str | None = None,
    at: datetime | None = None,
) -> None:
    now = utc_now()
    invoice.status = status
    invoice.updated_at = now
    session.add(
        InvoiceStatusChange(
            invoice_id=invoice.id,
            at=at or now,
            status=status,
            chorus_status=chorus_status,
            detail=detail,
        )
    )


async def mark_submitted(
    session: AsyncSession,
    invoice_id: str,
    *,
    chorus_invoice_id: int,
    chorus_status: str,
    first_sync_in: timedelta,
    adopted: bool = False,
    chorus_number: str | None = None,
) -> None:
    """Chorus has the invoice: record its ids, then follow its lifecycle."""
    invoice = await _load(session, invoice_id)
    now = utc_now()
    invoice.chorus_invoice_id = chorus_invoice_id
    if chorus_number and chorus_number != invoice.invoice_number:
        # SAISIE_API: Chorus numbered the invoice itself; the buyer sees this number.
        invoice.chorus_invoice_number = chorus_number
    invoice.chorus_status = chorus_status
    invoice.chorus_status_at = now
    detail = "found in Chorus Pro after an uncertain attempt" if adopted else None
    _history(
        session,
        invoice,
        InvoiceStatus.SUBMITTED,
        chorus_status=chorus_status,
        detail=detail,
        at=now,
    )
    await record_event(session, type=EventType.INVOICE_SUBMITTED, invoice=invoice)
    enqueue(
        session,
        InvoiceWork.SYNC,
        invoice_id=invoice.id,
        payload={"seen": 0, "polls": 0},
        due_at=utc_now() + first_sync_in,
    )


@dataclass(frozen=True, slots=True)
class Deposit:
    """A flux Chorus acknowledged, with the exact document it carried."""

    flux_number: str
    syntax: str
    filename: str
    content_type: str
    content: bytes


async def mark_deposited(
    session: AsyncSession, invoice_id: str, *, deposit: Deposit, first_poll_in: timedelta
) -> None:
    """Chorus took the flux: keep its number and document, then follow its report.

    The invoice stays `queued` until Chorus integrates it (and gives an invoice id) or not.
    """
    invoice = await _load(session, invoice_id)
    invoice.chorus_flux_number = deposit.flux_number
    now = utc_now()
    stored = await session.get(DepositedDocument, invoice.id)
    if stored is None:
        stored = DepositedDocument(invoice_id=invoice.id)
        session.add(stored)
    stored.syntax = deposit.syntax
    stored.filename = deposit.filename
    stored.content_type = deposit.content_type
    stored.size = len(deposit.content)
    stored.sha256 = hashlib.sha256(deposit.content).hexdigest()
    stored.content = deposit.content
    stored.flux_number = deposit.flux_number
    stored.created_at = now
    _history(
        session,
        invoice,
        InvoiceStatus.QUEUED,
        detail=f"deposited as flux {deposit.flux_number} ({deposit.syntax})",
        at=now,
    )
    enqueue(
        session,
        InvoiceWork.FOLLOW_FLUX,
        invoice_id=invoice.id,
        payload={"polls": 0},
        due_at=now + first_poll_in,
    )


async def mark_refused(session: AsyncSession, invoice_id: str, *, code: str, label: str) -> None:
    """Chorus refused the invoice at deposit: rejected, with its code and label."""
    invoice = await _load(session, invoice_id)
    invoice.chorus_rejection = {"code": code, "label": label}
    _history(session, invoice, InvoiceStatus.REJECTED, detail=f"{code}: {label}")
    await record_event(session, type=EventType.INVOICE_REJECTED, invoice=invoice)


async def mark_failed(
    session: AsyncSession, invoice_id: str, *, error: str, code: str | None = None
) -> None:
    """The gateway gave up delivering: retry budget spent, or `code` says why it stopped."""
    invoice = await _load(session, invoice_id)
    invoice.failure_code = code
    _history(session, invoice, InvoiceStatus.FAILED, detail=f"{code}: {error}" if code else error)
    await record_event(session, type=EventType.INVOICE_FAILED, invoice=invoice)


async def apply_chorus_changes(
    session: AsyncSession, invoice_id: str, changes: list[ChorusChange]
) -> None:
    """Append Chorus's new lifecycle steps in Chorus's order, each with its events.

    A step keeps the time Chorus gives (to the minute), never one made up to look ordered:
    history lines are listed in the order they were recorded, which is Chorus's order.
    """
    invoice = await _load(session, invoice_id)
    for change in changes:
        if change.code == invoice.chorus_status:
            continue  # already known (e.g. the DEPOSEE that soumettre answered)
        # Without a time from Chorus, the time the gateway learnt of the step is all there is.
        at = change.at or utc_now()
        status = status_for_chorus(change.code)
        invoice.chorus_status = change.code
        invoice.chorus_status_at = at
        if status is InvoiceStatus.REJECTED:
            invoice.chorus_rejection = {"code": change.code, "label": change.comment}
        _history(
            session,
            invoice,
            status,
            chorus_status=change.code,
            detail=change.comment,
            at=at,
        )
        await record_event(
            session,
            type=EventType.INVOICE_STATUS_CHANGED,
            invoice=invoice,
            detail={"chorus_status": change.code, "comment": change.comment},
        )
        if status is InvoiceStatus.REJECTED:
            await record_event(session, type=EventType.INVOICE_REJECTED, invoice=invoice)
        elif status is InvoiceStatus.PAID:
            await record_event(session, type=EventType.INVOICE_PAID, invoice=invoice)


async def requeue(session: AsyncSession, invoice: Invoice) -> None:
    """Send a failed invoice again; the first attempt searches Chorus before resending.

    A flux that never ended (or ended in an incident) is forgotten: the new attempt finds the
    invoice by its number if that flux was integrated after all, and deposits again otherwise.
    """
    invoice.failure_code = None
    invoice.chorus_flux_number = None
    _history(session, invoice, InvoiceStatus.QUEUED, detail="re-queued by an operator")
    await record_event(session, type=EventType.INVOICE_QUEUED, invoice=invoice)
    enqueue(
        session,
        InvoiceWork.DELIVER,
        invoice_id=invoice.id,
        payload={"reconcile_first": True},
    )
