"""The flux channel: deposer/flux, its asynchronous processing, consulterCR(Detaille).

A deposit is checked at once for what Chorus refuses synchronously (size, a readable file, the
announced syntax) and answered with a `numeroFluxDepot`. Processing is driven by the emulator's
clock without a background task, like the invoice lifecycle: a flux is `IN_RECU`, then
`IN_EN_COURS_TRAITEMENT_CPP` from half the processing delay, and once the delay has passed the
next call to the emulator (`settle_flux`, run before every request) applies the business rules of
`soumettre` to what each document says, in deposit order: an invoice that passes is recorded
(`modeDepot` `EDI`, the document's own number, planned lifecycle from the processing instant),
one that fails is listed with its reasons in `listeErreurDP`. The flux ends `IN_INTEGRE` (all
integrated), `IN_REJETE` (none) or `IN_INTEGRE_PARTIEL` (a `.tar.gz` with some of each).
The files a document carries (BG-24, or embedded in a Factur-X) meet the attachment limits of
`soumettre` and stay with the integrated invoice as its complementary attachments.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, get_args

from pydantic import ValidationError

from app.emulator.auth import Caller
from app.emulator.documents import (
    INVOICE_TYPES,
    SYNTAXES,
    DocumentInvoice,
    FluxTooLarge,
    FluxUnreadable,
    SyntaxMismatch,
    is_archive,
    read_document,
    unpack,
)
from app.emulator.envelope import ChorusRefusal
from app.emulator.factures.schemas import CadreFacturationCode, SoumettreFactureIn
from app.emulator.flux.schemas import (
    ConsulterCRDetailleOut,
    ConsulterCRIn,
    ConsulterCROut,
    DeposerFluxIn,
    DeposerFluxOut,
    ErreurDP,
)
from app.emulator.lifecycle import fate_of, planned_steps, schedule
from app.emulator.rules import (
    SubmissionContext,
    UploadedFile,
    check_attachment_files,
    check_submission,
)
from app.emulator.runtime import Emulator
from app.emulator.store import FluxErrorRecord, FluxRecord, InvoiceAttachment, InvoiceRecord

IN_RECU = "IN_RECU"
IN_EN_COURS = "IN_EN_COURS_TRAITEMENT_CPP"
IN_INTEGRE = "IN_INTEGRE"
IN_INTEGRE_PARTIEL = "IN_INTEGRE_PARTIEL"
IN_REJETE = "IN_REJETE"
MODE_DEPOT_FLUX = "EDI"
DEFAULT_FRAMEWORK = "A1_FACTURE_FOURNISSEUR"
# Chorus's interface code for an invoice flux (seen in consulterCRDetaille answers, [H]); which
# code goes with which syntax is not documented, so every flux gets the one example seen.
INTERFACE_CODE = "FSO1110A"
CENT = Decimal("0.01")


def flux_number(counter: int) -> str:
    """`CPP` followed by 22 digits, the shape of every `numeroFluxDepot` seen."""
    return f"CPP{counter:022d}"


def deposit_flux(emulator: Emulator, caller: Caller, body: DeposerFluxIn) -> DeposerFluxOut:
    """Accept the flux as IN_RECU, or raise the refusal Chorus answers at deposit."""
    settings = emulator.settings
    if body.syntaxeFlux not in SYNTAXES:
        raise ChorusRefusal(
            settings.code_flux_syntax_mismatch,
            f"La syntaxe {body.syntaxeFlux} n'est pas prise en charge "
            f"(attendu : {', '.join(SYNTAXES)}).",
        )
    # Base64 holds 3 bytes per 4 characters: refuse an oversize flux before decoding it.
    if len(body.fichierFlux) // 4 * 3 > settings.flux_max_bytes + 2:
        raise _too_large(emulator)
    try:
        content = base64.b64decode(body.fichierFlux, validate=True)
    except (binascii.Error, ValueError):
        raise ChorusRefusal(
            settings.code_flux_unreadable, "Le fichier (fichierFlux) n'est pas encodé en base64."
        ) from None
    if len(content) > settings.flux_max_bytes:
        raise _too_large(emulator)
    try:
        documents = _read_documents(emulator, content, body.syntaxeFlux)
    except FluxTooLarge as exc:
        raise ChorusRefusal(settings.code_flux_too_large, str(exc)) from None
    except FluxUnreadable as exc:
        raise ChorusRefusal(settings.code_flux_unreadable, str(exc)) from None
    except SyntaxMismatch as exc:
        raise ChorusRefusal(settings.code_flux_syntax_mismatch, str(exc)) from None

    store = emulator.store
    now = emulator.now()
    record = FluxRecord(
        id=(counter := store.allocate_flux_id()),
        number=flux_number(counter),
        login=caller.login,
        caller_structure_ids=sorted(caller.structure_ids),
        file_name=body.nomFichier,
        syntax=body.syntaxeFlux,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        deposited_at=now,
        deposit_date=emulator.today(),
        processing_at=now + timedelta(seconds=settings.flux_processing_seconds),
        documents=[document.model_dump(mode="json") for document in documents],
        with_signature=body.avecSignature,
    )
    store.add_flux(record)
    return DeposerFluxOut(
        libelle=settings.success_libelle,
        numeroFluxDepot=record.number,
        dateDepot=record.deposit_date,
        syntaxeFlux=record.syntax,
    )


def _read_documents(emulator: Emulator, content: bytes, syntax: str) -> list[DocumentInvoice]:
    """The invoices of the flux: the file itself, or each file of a `.tar.gz`.

    One unreadable or mistaken file refuses the whole archive, naming the file.
    """
    if not is_archive(content):
        return [read_document(content, syntax)]
    settings = emulator.settings
    documents = []
    for name, data in unpack(content, settings.flux_max_invoices, settings.flux_max_bytes):
        try:
            documents.append(read_document(data, syntax))
        except (FluxUnreadable, SyntaxMismatch) as exc:
            raise type(exc)(f"{name} : {exc}") from None
    return documents


def _too_large(emulator: Emulator) -> ChorusRefusal:
    return ChorusRefusal(
        emulator.settings.code_flux_too_large,
        f"GDP_MSG_11.022 - Le flux dépasse la taille maximale autorisée "
        f"({emulator.settings.flux_max_bytes} octets).",
    )


# --- processing ----------------------------------------------------------------------------------


def settle_flux(emulator: Emulator) -> None:
    """Process every flux whose processing time has come, oldest deposit first."""
    for record in emulator.store.due_flux(emulator.now()):
        _process(emulator, record)


def _framework(value: str | None) -> str | None:
    """BT-23 as a Chorus framework code: the full code or its `A<n>` prefix; absent means A1."""
    if value is None:
        return DEFAULT_FRAMEWORK
    return next(
        (
            code
            for code in get_args(CadreFacturationCode)
            if value == code or code.startswith(value + "_")
        ),
        None,
    )


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _as_soumettre(document: DocumentInvoice, supplier_id: int, framework: str) -> dict[str, Any]:
    """The document as a soumettre body, so the same rules, search and consult apply to it.

    `modeDepot` `SAISIE_API` here only selects the rules' structured-invoice path (lines
    required); the invoice record says `EDI`. A line's allowances, charges and price base
    quantity become its `lignePosteMontantRemiseHT`, so quantity x price - remise is the
    document's line net amount (BT-131).
    """
    lines = []
    for index, line in enumerate(document.lines, start=1):
        adjustment = _cents(line.quantity * line.net_price) - line.net_amount
        lines.append(
            {
                "lignePosteNumero": index,
                "lignePosteDenomination": line.name,
                "lignePosteQuantite": line.quantity,
                "lignePosteUnite": line.unit,
                "lignePosteMontantUnitaireHT": line.net_price,
                "lignePosteMontantRemiseHT": adjustment or None,
                "lignePosteTauxTvaManuel": line.vat_rate,
            }
        )
    # Document-level allowances and charges have no soumettre field the line-sum rule reads:
    # one more line carries their balance, so the lines still add up to BT-109.
    balance = (document.charges or Decimal(0)) - (document.allowances or Decimal(0))
    if balance:
        lines.append(
            {
                "lignePosteNumero": len(lines) + 1,
                "lignePosteDenomination": "Remises et charges au niveau du document",
                "lignePosteQuantite": Decimal(1),
                "lignePosteMontantUnitaireHT": balance,
            }
        )
    return {
        "modeDepot": "SAISIE_API",
        "numeroFactureSaisi": document.number,
        "dateFacture": document.issue_date,
        "destinataire": {
            "codeDestinataire": document.buyer_siret,
            "codeServiceExecutant": document.service_code,
        },
        "fournisseur": {"idFournisseur": supplier_id},
        "cadreDeFacturation": {"codeCadreFacturation": framework},
        "references": {
            "deviseFacture": document.currency,
            "typeFacture": INVOICE_TYPES.get(document.type_code or ""),
            "numeroMarche": document.market,
            "numeroBonCommande": document.ej,
            "numeroFactureOrigine": document.preceding_number,
        },
        "lignePoste": lines,
        "ligneTva": [
            {
                "ligneTvaTauxManuel": vat.rate,
                "ligneTvaMontantBaseHtParTaux": vat.base,
                "ligneTvaMontantTvaParTaux": vat.amount,
            }
            for vat in document.vat
        ],
        "montantTotal": {
            "montantHtTotal": document.total_ht,
            "montantTVA": document.total_vat if document.total_vat is not None else Decimal(0),
            "montantTtcTotal": document.total_ttc,
            "montantAPayer": document.payable,
        },
    }


def _check(
    emulator: Emulator, record: FluxRecord, document: DocumentInvoice
) -> tuple[list[str], SoumettreFactureIn | None]:
    """Why Chorus would not integrate this invoice (empty if it would), and the invoice."""
    if document.problems:
        return document.problems, None
    store = emulator.store
    supplier = store.directory.by_identifier(document.supplier_siret or "")
    if supplier is None or supplier.id is None or not supplier.is_supplier:
        # Chorus's own wording for this case (chorus-pro.md §2.3).
        return [
            f"L'identifiant fournisseur de la demande de paiement ({document.supplier_siret}) "
            "n'est pas référencé dans notre système."
        ], None
    framework = _framework(document.framework)
    if framework is None:
        return [
            f"Le cadre de facturation {document.framework} (BT-23) n'est pas un cadre Chorus Pro."
        ], None
    try:
        invoice = SoumettreFactureIn.model_validate(_as_soumettre(document, supplier.id, framework))
    except ValidationError as exc:
        return [
            "Données de facture invalides : "
            + " ; ".join(
                f"{'.'.join(str(part) for part in error['loc'])} : {error['msg']}"
                for error in exc.errors()[:5]
            )
        ], None
    number = invoice.numeroFactureSaisi or ""
    duplicate = (
        supplier.id in record.caller_structure_ids
        and store.find_invoice(supplier.id, number, invoice.references.typeFacture) is not None
    )
    context = SubmissionContext(
        caller_structure_ids=frozenset(record.caller_structure_ids),
        recipient=store.directory.by_identifier((document.buyer_siret or "").strip()),
        duplicate=duplicate,
    )
    refusals = check_submission(invoice, context, emulator.settings)
    refusals += check_attachment_files(
        [
            UploadedFile(item.name, item.name.rpartition(".")[2], item.size)
            for item in document.attachments
        ],
        emulator.settings,
    )
    if duplicate:
        store.count_duplicate(supplier.identifier)
    return [refusal.libelle for refusal in refusals], invoice


def _process(emulator: Emulator, record: FluxRecord) -> None:
    """Integrate the flux's invoices one by one (so a number repeated inside it is a duplicate)."""
    rejected = 0
    for dump in record.documents:
        document = DocumentInvoice.model_validate(dump)
        problems, invoice = _check(emulator, record, document)
        if problems or invoice is None:
            rejected += 1
            record.errors += [
                FluxErrorRecord(
                    number=document.number,
                    supplier_identifier=document.supplier_siret,
                    recipient_identifier=document.buyer_siret,
                    reason=reason,
                )
                for reason in problems or ["Facture non intégrée."]
            ]
        else:
            record.invoice_ids.append(_integrate(emulator, record, document, invoice))
    if rejected == 0:
        record.final_state = IN_INTEGRE
    elif rejected == len(record.documents):
        record.final_state = IN_REJETE
    else:
        record.final_state = IN_INTEGRE_PARTIEL
    emulator.store.save_flux(record)


def _integrate(
    emulator: Emulator, record: FluxRecord, document: DocumentInvoice, invoice: SoumettreFactureIn
) -> int:
    """Record the invoice the flux carried; its lifecycle starts when the flux is processed."""
    settings = emulator.settings
    store = emulator.store
    supplier = store.directory.by_id(invoice.fournisseur.idFournisseur)
    recipient = store.directory.by_identifier(invoice.destinataire.codeDestinataire.strip())
    if supplier is None or recipient is None or recipient.id is None:
        raise RuntimeError("the rules accepted an unknown supplier or recipient")
    number = invoice.numeroFactureSaisi or ""
    invoice_type = invoice.references.typeFacture
    invoice_id = store.allocate_invoice_id()
    steps: list[tuple[str, str | None]] = []
    if settings.lifecycle_mode == "auto":
        fate = fate_of(
            f"{supplier.identifier}:{number}:{invoice_type}",
            settings.rejected_share,
            settings.suspended_share,
        )
        steps = planned_steps(fate, settings.rejection_reason, settings.suspension_reason)
    events = schedule(
        record.processing_at,
        settings.lifecycle_step_seconds,
        steps,
        store.allocate_event_ids(len(steps) + 1),
    )
    service_code = (invoice.destinataire.codeServiceExecutant or "").strip() or None
    service = recipient.service_by_code(service_code) if service_code else None
    fingerprint = base64.b64encode(
        hashlib.sha256(
            f"{invoice_id}|{supplier.identifier}|{number}|{record.number}".encode()
        ).digest()
    ).decode()
    store.add_invoice(
        InvoiceRecord(
            id=invoice_id,
            supplier_id=supplier.id or invoice.fournisseur.idFournisseur,
            supplier_identifier=supplier.identifier,
            login=record.login,
            number=number,
            sender_number=number,
            invoice_type=invoice_type,
            mode_depot=MODE_DEPOT_FLUX,
            recipient_id=recipient.id,
            recipient_identifier=recipient.identifier,
            service_id=service.id if service else None,
            service_code=service.code if service else None,
            received_at=record.processing_at,
            deposit_date=record.deposit_date,
            fingerprint=fingerprint,
            request=invoice.model_dump(mode="json"),
            events=events,
            flux_id=record.number,
            signed_pdf=document.signed_pdf,
            attachments=[
                InvoiceAttachment(
                    name=item.name,
                    size=item.size,
                    sha256=item.sha256,
                    kind="complementary",
                    mime_type=item.mime_type,
                )
                for item in document.attachments
            ],
        )
    )
    return invoice_id


# --- reports -------------------------------------------------------------------------------------


def flux_state(record: FluxRecord, now: datetime) -> tuple[str, datetime]:
    """The flux's state at `now` and since when."""
    if record.final_state is not None:
        return record.final_state, record.processing_at
    halfway = record.deposited_at + (record.processing_at - record.deposited_at) / 2
    if now >= halfway:
        return IN_EN_COURS, halfway
    return IN_RECU, record.deposited_at


def _owned(emulator: Emulator, caller: Caller, number: str) -> FluxRecord:
    record = emulator.store.flux(number.strip())
    if record is None or not caller.structure_ids.intersection(record.caller_structure_ids):
        raise ChorusRefusal(
            emulator.settings.code_flux_not_found, f"Le flux {number} n'existe pas."
        )
    return record


def report(emulator: Emulator, caller: Caller, query: ConsulterCRIn) -> ConsulterCROut:
    """consulterCR: the flux's current state."""
    record = _owned(emulator, caller, query.numeroFluxDepot)
    state, since = flux_state(record, emulator.now())
    return ConsulterCROut(
        libelle=emulator.settings.success_libelle,
        numeroFluxDepot=record.number,
        etatCourantFlux=state,
        dateDepotFlux=record.deposit_date,
        dateHeureEtatCourantFlux=emulator.format_instant(since),
        nomFichierFlux=record.file_name,
        codeInterfaceFlux=INTERFACE_CODE,
    )


def detailed_report(
    emulator: Emulator, caller: Caller, query: ConsulterCRIn
) -> ConsulterCRDetailleOut:
    """consulterCRDetaille: the state and, once processed, the invoices not integrated."""
    record = _owned(emulator, caller, query.numeroFluxDepot)
    state, since = flux_state(record, emulator.now())
    return ConsulterCRDetailleOut(
        libelle=emulator.settings.success_libelle,
        numeroFluxDepot=record.number,
        etatCourantDepotFlux=state,
        dateDepotFlux=record.deposit_date,
        dateHeureEtatCourantFlux=emulator.format_instant(since),
        nomFichier=f"{INTERFACE_CODE}_CPP001_{record.number}",
        codeInterfaceDepotFlux=INTERFACE_CODE,
        listeErreurDP=[
            ErreurDP(
                identifiantDestinataire=error.recipient_identifier,
                identifiantFournisseur=error.supplier_identifier,
                libelleErreurDP=error.reason,
                numeroDP=error.number,
            )
            for error in record.errors
        ],
        listeErreurTechnique=[],
    )
