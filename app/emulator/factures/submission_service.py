"""`soumettre`: apply Chorus's rules, then record the invoice and plan its lifecycle."""

from __future__ import annotations

import base64
import hashlib
from typing import Literal

from app.emulator.auth import Caller
from app.emulator.envelope import ChorusRefusal, MalformedRequest
from app.emulator.factures.schemas import SoumettreFactureIn, SoumettreFactureOut
from app.emulator.lifecycle import DEPOSEE, fate_of, planned_steps, schedule
from app.emulator.rules import SubmissionContext, UploadedFile, check_submission
from app.emulator.runtime import Emulator
from app.emulator.store import AttachmentRecord, InvoiceAttachment, InvoiceRecord


def submit_invoice(
    emulator: Emulator, caller: Caller, invoice: SoumettreFactureIn
) -> SoumettreFactureOut:
    """Accept the invoice as DEPOSEE or raise the first refusal Chorus would answer."""
    settings = emulator.settings
    store = emulator.store
    sender_number = (invoice.numeroFactureSaisi or "").strip() or None
    if sender_number is None and not settings.auto_number_invoices:
        raise MalformedRequest("Requête invalide - numeroFactureSaisi : obligatoire")
    chorus_numbers = invoice.modeDepot == "SAISIE_API" and settings.saisie_numbering == "chorus"
    # When Chorus numbers the invoice, the sender's number is not Chorus's business: the same
    # invoice sent twice becomes two invoices, never a refused duplicate.
    number = None if chorus_numbers else sender_number
    supplier_id = invoice.fournisseur.idFournisseur
    invoice_type = invoice.references.typeFacture
    duplicate = (
        number is not None
        and supplier_id in caller.structure_ids
        and store.find_invoice(supplier_id, number, invoice_type) is not None
    )
    recipient = store.directory.by_identifier(invoice.destinataire.codeDestinataire.strip())
    uploads = store.attachments_of(caller.structure_ids)
    context = SubmissionContext(
        caller_structure_ids=caller.structure_ids,
        recipient=recipient,
        duplicate=duplicate,
        uploads={
            upload.id: UploadedFile(upload.name, upload.extension, upload.size, upload.signed_pdf)
            for upload in uploads.values()
        },
    )
    refusals = check_submission(invoice, context, settings)
    supplier = store.directory.by_id(supplier_id)
    if duplicate and supplier is not None:
        store.count_duplicate(supplier.identifier)
    if refusals:
        raise ChorusRefusal(refusals[0].code, refusals[0].libelle)
    if supplier is None or recipient is None or recipient.id is None:
        raise RuntimeError("the rules accepted an unknown supplier or recipient")

    invoice_id = store.allocate_invoice_id()
    now = emulator.now()
    today = emulator.today()
    # Chorus's own number: 20 digits in MFP's sandbox run [L]; unique and increasing with the id.
    number = number or f"{today.year}{invoice_id:016d}"
    steps: list[tuple[str, str | None]] = []
    if settings.lifecycle_mode == "auto":
        # Keyed on the sender's number when there is one, so an invoice's fate stays the same
        # whoever numbers it.
        fate = fate_of(
            f"{supplier.identifier}:{sender_number or number}:{invoice_type}",
            settings.rejected_share,
            settings.suspended_share,
        )
        steps = planned_steps(fate, settings.rejection_reason, settings.suspension_reason)
    events = schedule(
        now, settings.lifecycle_step_seconds, steps, store.allocate_event_ids(len(steps) + 1)
    )
    service_code = (invoice.destinataire.codeServiceExecutant or "").strip() or None
    service = recipient.service_by_code(service_code) if service_code else None
    request = invoice.model_dump(mode="json")
    principal = [
        uploads[piece.pieceJointePrincipaleId] for piece in invoice.pieceJointePrincipale or []
    ]
    complementary = [
        uploads[piece.pieceJointeComplementaireId]
        for piece in invoice.pieceJointeComplementaire or []
    ]
    # Stands in for the SHA-256 of the deposit certificate Chorus returns ([L] on the algorithm).
    fingerprint = base64.b64encode(
        hashlib.sha256(f"{invoice_id}|{supplier.identifier}|{number}|{today}".encode()).digest()
    ).decode()
    store.add_invoice(
        InvoiceRecord(
            id=invoice_id,
            supplier_id=supplier_id,
            supplier_identifier=supplier.identifier,
            login=caller.login,
            number=number,
            sender_number=sender_number,
            invoice_type=invoice_type,
            mode_depot=invoice.modeDepot,
            recipient_id=recipient.id,
            recipient_identifier=recipient.identifier,
            service_id=service.id if service else None,
            service_code=service.code if service else None,
            received_at=now,
            deposit_date=today,
            fingerprint=fingerprint,
            request=request,
            events=events,
            signed_pdf=any(upload.signed_pdf for upload in principal),
            attachments=[_kept(upload, "principal") for upload in principal]
            + [_kept(upload, "complementary") for upload in complementary],
        )
    )
    return SoumettreFactureOut(
        libelle=settings.submit_success_libelle,
        identifiantFactureCPP=invoice_id,
        numeroFacture=number,
        statutFacture=DEPOSEE,
        dateDepot=today,
        identifiantStructure=supplier.identifier,
        empreinteCertificatDepot=fingerprint,
    )


def _kept(
    upload: AttachmentRecord, kind: Literal["principal", "complementary"]
) -> InvoiceAttachment:
    return InvoiceAttachment(
        name=upload.name,
        size=upload.size,
        sha256=upload.sha256,
        kind=kind,
        mime_type=upload.mime_type,
    )
