"""Supporting documents of a stored invoice: add them before delivery starts, read them back.

Stored in the database with the invoice (`invoice_attachment`), so the invoice, its PDF and its
attachments are one unit for transactions and backups: a database backup has them all.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import Caller
from app.db.base import utc_now
from app.domain.lifecycle import InvoiceStatus
from app.domain.violations import Violation
from app.errors import Conflict, InvoiceInvalid, NotFound
from app.invoices.attachments import (
    ATTACHMENT_INVALID,
    UploadedAttachment,
    attachment_violations,
    channel_violations,
)
from app.invoices.channels import Channel, stored_channel
from app.invoices.models import Invoice, InvoiceAttachment, InvoiceDocument
from app.invoices.schemas import AttachmentList, AttachmentOut
from app.invoices.service import attachment_limits, attachment_row
from app.invoices.work import InvoiceWork
from app.outbox.models import OutboxItem
from app.outbox.service import OutboxState
from app.settings import ApiSettings


class AttachmentsClosed(Conflict):
    """Delivery has started: what reaches Chorus can no longer change."""

    code = "ATTACHMENTS_CLOSED"
    title = "Attachments can no longer be added"


async def _visible(session: AsyncSession, caller: Caller, invoice_id: str) -> Invoice:
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None or not caller.may_see_supplier(invoice.supplier_siret):
        raise NotFound(f"No invoice {invoice_id}.")
    return invoice


async def add_attachments(
    session: AsyncSession,
    caller: Caller,
    invoice_id: str,
    attachments: Sequence[UploadedAttachment],
    settings: ApiSettings,
) -> AttachmentList:
    """Add supporting documents to a queued invoice no delivery attempt has picked up yet."""
    invoice = await _visible(session, caller, invoice_id)
    await _hold_delivery(session, invoice)
    stored_count, stored_bytes, last = (
        await session.execute(
            select(
                func.count(InvoiceAttachment.id),
                func.coalesce(func.sum(InvoiceAttachment.size), 0),
                func.coalesce(func.max(InvoiceAttachment.position), 0),
            ).where(InvoiceAttachment.invoice_id == invoice_id)
        )
    ).one()
    pdf = (
        await session.execute(
            select(
                InvoiceDocument.size, InvoiceDocument.signed, InvoiceDocument.received_syntax
            ).where(InvoiceDocument.invoice_id == invoice_id)
        )
    ).one_or_none()
    names = await session.scalars(
        select(InvoiceAttachment.filename).where(InvoiceAttachment.invoice_id == invoice_id)
    )
    channel = stored_channel(invoice.chorus_channel, has_pdf=invoice.has_pdf)
    violations = attachment_violations(
        attachments,
        attachment_limits(settings),
        pdf_size=pdf.size if pdf else 0,
        stored_count=int(stored_count),
        stored_bytes=int(stored_bytes),
        stored_names=list(names),
    )
    violations += channel_violations(attachments, channel)
    if channel is Channel.FACTURX and pdf is not None and pdf.signed:
        violations.append(
            Violation(
                "attachments",
                ATTACHMENT_INVALID,
                "This invoice is a signed Factur-X, deposited as is: nothing can be added to it.",
            )
        )
    if pdf is not None and pdf.received_syntax is not None:
        # Chorus reads only the deposited document; attachments stored beside it would be lost.
        violations.append(
            Violation(
                "attachments",
                ATTACHMENT_INVALID,
                "This invoice is the ERP's own document, deposited byte for byte: supporting "
                "documents go inside it (BG-24, AdditionalSupportingDocuments).",
            )
        )
    if violations:
        raise InvoiceInvalid(
            f"{len(violations)} problem(s) found; Chorus Pro would refuse these attachments.",
            errors=violations,
        )
    now = utc_now()
    for position, attachment in enumerate(attachments, start=int(last) + 1):
        session.add(attachment_row(invoice_id, position, attachment, now))
    await session.flush()
    return await list_attachments(session, caller, invoice_id)


async def _hold_delivery(session: AsyncSession, invoice: Invoice) -> None:
    """409 unless no delivery attempt has begun; else hold it back until this commits.

    The conditional UPDATE locks the delivery item (PostgreSQL) or the database (SQLite), so a
    worker claiming it either went first (then `attempts` is no longer 0 and this refuses) or
    waits, and its attempt then reads the new attachments.
    """
    closed = AttachmentsClosed(
        f"Invoice {invoice.id} is {invoice.status} and its delivery to Chorus Pro has begun; "
        "attachments can only be added to a queued invoice before its first delivery attempt."
    )
    if (
        invoice.status != InvoiceStatus.QUEUED
        or invoice.chorus_flux_number is not None
        or invoice.chorus_invoice_id is not None
    ):
        raise closed
    deliveries = OutboxItem.invoice_id == invoice.id, OutboxItem.kind == InvoiceWork.DELIVER
    held = await session.execute(
        update(OutboxItem)
        .where(*deliveries, OutboxItem.state == OutboxState.PENDING, OutboxItem.attempts == 0)
        .values(updated_at=utc_now())
    )
    tried = await session.scalar(
        select(func.count(OutboxItem.id)).where(*deliveries, OutboxItem.attempts > 0)
    )
    if getattr(held, "rowcount", 0) != 1 or tried:
        raise closed


async def list_attachments(
    session: AsyncSession, caller: Caller, invoice_id: str
) -> AttachmentList:
    """The invoice's supporting documents (without their bytes)."""
    await _visible(session, caller, invoice_id)
    rows = await session.execute(
        select(
            InvoiceAttachment.position,
            InvoiceAttachment.filename,
            InvoiceAttachment.content_type,
            InvoiceAttachment.size,
            InvoiceAttachment.sha256,
        )
        .where(InvoiceAttachment.invoice_id == invoice_id)
        .order_by(InvoiceAttachment.position)
    )
    return AttachmentList(
        items=[
            AttachmentOut(
                position=row.position,
                filename=row.filename,
                content_type=row.content_type,
                size=row.size,
                sha256=row.sha256,
                url=f"/v1/invoices/{invoice_id}/attachments/{row.position}",
            )
            for row in rows
        ]
    )


async def get_attachment(
    session: AsyncSession, caller: Caller, invoice_id: str, position: int
) -> InvoiceAttachment:
    """One supporting document, with its bytes."""
    await _visible(session, caller, invoice_id)
    attachment = await session.scalar(
        select(InvoiceAttachment).where(
            InvoiceAttachment.invoice_id == invoice_id, InvoiceAttachment.position == position
        )
    )
    if attachment is None:
        raise NotFound(f"Invoice {invoice_id} has no attachment {position}.")
    return attachment
