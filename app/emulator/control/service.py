"""What the control API does, kept out of its router."""

from __future__ import annotations

from collections import Counter

from app.emulator.control.schemas import (
    AccountOut,
    AttachmentOut,
    FluxErrorOut,
    FluxOut,
    InvoiceList,
    InvoiceOut,
    StatusChange,
    StatusEventOut,
    StructureOut,
)
from app.emulator.directory import StructureSpec
from app.emulator.flux.service import flux_state
from app.emulator.lifecycle import current, override, transition_refusal, visible
from app.emulator.rules import siret_is_valid
from app.emulator.runtime import Emulator
from app.emulator.store import FluxRecord, InvoiceRecord


class NotFound(LookupError):
    """The control API was asked about something the emulator does not hold."""


class TransitionRefused(ValueError):
    """A buyer action Chorus would not allow from the invoice's current status."""


def describe_invoice(emulator: Emulator, record: InvoiceRecord) -> InvoiceOut:
    """An invoice with its status and history as of now."""
    now = emulator.now()
    status = current(record.events, now)
    return InvoiceOut(
        id=record.id,
        supplier_siret=record.supplier_identifier,
        supplier_id=record.supplier_id,
        number=record.number,
        sender_number=record.sender_number,
        type=record.invoice_type,
        mode=record.mode_depot,
        status=status.code,
        status_at=status.at,
        comment=status.comment,
        recipient_siret=record.recipient_identifier,
        service_code=record.service_code,
        deposit_date=record.deposit_date,
        received_at=record.received_at,
        history=[
            StatusEventOut(id=event.id, code=event.code, at=event.at, comment=event.comment)
            for event in visible(record.events, now)
        ],
        flux_id=record.flux_id,
        signed_pdf=record.signed_pdf,
        attachments=[
            AttachmentOut.model_validate(attachment.model_dump())
            for attachment in record.attachments
        ],
    )


def list_invoices(emulator: Emulator) -> InvoiceList:
    """Every invoice received, with per-supplier and duplicate counts."""
    records = emulator.store.invoices()
    duplicates = emulator.store.duplicates_refused()
    return InvoiceList(
        lifecycle_mode=emulator.settings.lifecycle_mode,
        total=len(records),
        counts_by_supplier=dict(Counter(record.supplier_identifier for record in records)),
        duplicates_refused=sum(duplicates.values()),
        duplicates_refused_by_supplier=duplicates,
        invoices=[describe_invoice(emulator, record) for record in records],
    )


def describe_flux(emulator: Emulator, record: FluxRecord) -> FluxOut:
    """A flux with its state as of now."""
    state, since = flux_state(record, emulator.now())
    return FluxOut(
        number=record.number,
        login=record.login,
        file_name=record.file_name,
        syntax=record.syntax,
        size=record.size,
        sha256=record.sha256,
        state=state,
        state_at=since,
        deposited_at=record.deposited_at,
        processing_at=record.processing_at,
        with_signature=record.with_signature,
        document_numbers=[document.get("number") for document in record.documents],
        errors=[
            FluxErrorOut(
                number=error.number,
                supplier_siret=error.supplier_identifier,
                recipient_siret=error.recipient_identifier,
                reason=error.reason,
            )
            for error in record.errors
        ],
        invoice_ids=record.invoice_ids,
    )


def get_invoice(emulator: Emulator, invoice_id: int) -> InvoiceOut:
    """One invoice, or NotFound."""
    record = emulator.store.invoice(invoice_id)
    if record is None:
        raise NotFound(f"no invoice {invoice_id}")
    return describe_invoice(emulator, record)


def change_status(emulator: Emulator, invoice_id: int, change: StatusChange) -> InvoiceOut:
    """Act as the buyer: the new status applies now and cancels the planned auto steps.

    Raises NotFound, or TransitionRefused for a move Chorus refuses (out of a final status).
    """
    record = emulator.store.invoice(invoice_id)
    if record is None:
        raise NotFound(f"no invoice {invoice_id}")
    now = emulator.now()
    refusal = transition_refusal(current(record.events, now).code, change.statut)
    if refusal is not None:
        raise TransitionRefused(f"invoice {invoice_id}: {refusal}")
    events = override(
        record.events,
        now,
        emulator.store.allocate_event_ids(1),
        change.statut,
        change.motif,
    )
    return describe_invoice(emulator, emulator.store.replace_events(invoice_id, events))


def describe_structure(spec: StructureSpec) -> StructureOut:
    """A directory entry without its password."""
    account = spec.technical_account
    return StructureOut(
        id=spec.id or 0,
        identifier=spec.identifier,
        identifier_type=spec.identifier_type,
        designation=spec.designation,
        role=spec.role,
        public=spec.public,
        active=spec.active,
        service_required=spec.service_required,
        ej_required=spec.ej_required,
        ej_or_service_required=spec.ej_or_service_required,
        services=[service.model_dump() for service in spec.services],
        technical_account=(
            AccountOut(login=account.login, password_expires_at=account.password_expires_at)
            if account
            else None
        ),
    )


def add_structure(emulator: Emulator, spec: StructureSpec) -> StructureOut:
    """Add or replace a structure; a SIRET must pass Luhn unless `check_luhn` is off."""
    if (
        emulator.settings.check_luhn
        and spec.identifier_type == "SIRET"
        and not siret_is_valid(spec.identifier)
    ):
        raise ValueError(f"{spec.identifier} is not a valid SIRET (set EMULATOR_CHECK_LUHN=false)")
    if spec.technical_account is not None and not spec.is_supplier:
        raise ValueError("only a supplier structure can have a technical account")
    return describe_structure(emulator.store.upsert_structure(spec))
