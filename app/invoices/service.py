"""Invoice use cases: validate, submit (store + outbox, idempotently), read and list."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any, Literal, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import Caller
from app.db.base import utc_now
from app.db.types import new_id
from app.domain.identifiers import is_valid_siret, normalize_siret
from app.domain.invoice import (
    DEFAULT_FRAMEWORK,
    DEFAULT_PAYMENT_MEANS,
    DEFAULT_UNIT_CODE,
    DEFAULT_VAT_REGIME,
    Address,
    InvoiceDraft,
    compute_totals,
    to_cents,
)
from app.domain.lifecycle import InvoiceStatus
from app.domain.rules import BuyerRequirements, ValidationPolicy, validate_invoice
from app.domain.violations import Code, Violation
from app.errors import (
    DuplicateInvoice,
    FormatInvalid,
    IdempotencyKeyInFlight,
    InvoiceInvalid,
    InvoiceNotFailed,
    NotFound,
    RequestInvalid,
)
from app.events.service import event_rows
from app.events.types import EventType
from app.formats.conformance import ConformanceReport, Syntax, unit_codes
from app.formats.facturx import PdfUnusable, ensure_embeddable
from app.formats.intake import check_received, finding_json
from app.idempotency import service as idempotency
from app.invoices import insertion, repository, transitions
from app.invoices.attachments import (
    AttachmentLimits,
    UploadedAttachment,
    attachment_violations,
    channel_violations,
)
from app.invoices.channels import (
    DEFAULT_CHANNEL,
    Channel,
    needs_structured_document,
    resolve_channel,
)
from app.invoices.documents import country_codes
from app.invoices.mapping import invoice_out
from app.invoices.models import (
    Invoice,
    InvoiceAttachment,
    InvoiceDocument,
    InvoiceLine,
    InvoiceStatusChange,
)
from app.invoices.parsing import parse_invoice, to_address, to_draft, totals_violations
from app.invoices.repository import InvoiceFilter
from app.invoices.schemas import AddressIn, InvoiceIn, InvoiceOut, InvoicePage, TotalsIn
from app.invoices.signed_pdfs import (
    UNSIGNED,
    Signature,
    SignatureCheck,
    check_signatures,
    facturx_violations,
)
from app.invoices.uploads import ReceivedDocument, UploadedFile, chorus_filename
from app.invoices.work import InvoiceWork
from app.metrics_registry import VALIDATION_FAILURES
from app.outbox.service import outbox_row
from app.settings import ApiSettings
from app.structures.models import SupplierStructure
from app.structures.service import structure_address

QUEUED = "queued"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ValidatedInvoice:
    """A normalized invoice that passed every rule."""

    invoice: InvoiceIn
    validation_mode: Literal["online", "offline"]
    # The domain's view of it, as validated (built once: the rows' lines are read from it).
    draft: InvoiceDraft
    # How it goes to Chorus Pro, decided now: it was validated for that channel.
    channel: Channel = DEFAULT_CHANNEL
    # The PDF's signature, when it is signed (it is then sent as is).
    signature: Signature | None = None
    # An ERP's own UBL, CII or Factur-X: the XSD and schematron verdict on it (warnings only:
    # a fatal finding refused it), and whether the flux deposits it byte for byte.
    conformance: ConformanceReport | None = None
    as_received: bool = False


# An ERP's own document goes to Chorus in its own syntax, whatever the configured preference.
_RECEIVED_CHANNELS = {
    Syntax.CII: Channel.CII,
    Syntax.UBL: Channel.UBL,
    Syntax.FACTURX: Channel.FACTURX,
}


@dataclass(frozen=True, slots=True)
class Submission:
    """The answer to a submission: a new invoice, or the replay of an earlier answer."""

    status: int
    body: dict[str, Any]
    location: str | None
    replayed: bool


def _policy(settings: ApiSettings, caller: Caller | None, *, today: date) -> ValidationPolicy:
    return ValidationPolicy(
        today=today,
        allowed_buyer_sirets=frozenset(settings.allowed_buyer_sirets),
        allowed_supplier_sirets=None
        if caller is None or caller.is_operator
        else caller.supplier_sirets,
        allowed_currencies=frozenset(settings.allowed_currencies),
        allowed_vat_rates=frozenset(rate.normalize() for rate in settings.allowed_vat_rates),
        state_ej_pattern=settings.state_ej_pattern,
        max_lines=settings.max_lines,
        max_future_issue_days=settings.max_future_issue_days,
        unit_codes=unit_codes(),
    )


# Asks Chorus Pro's directory what a buyer needs: (buyer SIRET, SE) -> requirements, or None
# when it cannot be asked (validation is then offline).
RequirementsLookup = Callable[[str, str | None], Awaitable[BuyerRequirements | None]]


async def _no_lookup(buyer_siret: str, service_code: str | None) -> BuyerRequirements | None:
    return None


@dataclass(frozen=True, slots=True)
class SupplierProfile:
    """A registered supplier structure's invoice defaults."""

    vat_regime: str | None
    vat_exemption_reason: str | None
    vat_number: str | None = None
    address: Address | None = None
    # Its Channel override (NULL: the configured CHORUS_DELIVERY_FORMAT).
    delivery_format: str | None = None


# Supplier SIRET -> its registered structure's defaults, or None when none is registered.
SupplierLookup = Callable[[str], Awaitable[SupplierProfile | None]]


def supplier_profile(structure: SupplierStructure) -> SupplierProfile:
    """What an invoice takes from its supplier's registered structure."""
    return SupplierProfile(
        vat_regime=structure.vat_regime,
        vat_exemption_reason=structure.vat_exemption_reason,
        vat_number=structure.vat_number,
        address=structure_address(structure),
        delivery_format=structure.delivery_format,
    )


async def find_supplier(session: AsyncSession, siret: str) -> SupplierProfile | None:
    """The supplier's registered structure's defaults, or None when none is registered."""
    structure = await session.get(SupplierStructure, siret)
    return None if structure is None else supplier_profile(structure)


# What people put inside a VAT number to read it ("FR 96 412 345 670"); none of it is part of it.
_VAT_NUMBER_SEPARATORS = re.compile(r"[\s.\-/]")


def _compact_vat_number(invoice: InvoiceIn | None) -> InvoiceIn | None:
    """The invoice with its supplier VAT number as documents and Chorus write it (no spaces)."""
    supplier = invoice.supplier if invoice else None
    if invoice is None or supplier is None or supplier.vat_number is None:
        return invoice
    compact = _VAT_NUMBER_SEPARATORS.sub("", supplier.vat_number) or None
    return invoice.model_copy(
        update={"supplier": supplier.model_copy(update={"vat_number": compact})}
    )


def _with_defaults(invoice: InvoiceIn, profile: SupplierProfile | None) -> InvoiceIn:
    """The invoice with the VAT regime (and reason) and VAT number its structure defaults to."""
    if profile is None:
        return invoice
    supplier = invoice.supplier
    if supplier is not None and supplier.vat_number is None and profile.vat_number:
        supplier = supplier.model_copy(update={"vat_number": profile.vat_number})
    return invoice.model_copy(
        update={
            "vat_regime": invoice.vat_regime or profile.vat_regime,
            "vat_exemption_reason": invoice.vat_exemption_reason or profile.vat_exemption_reason,
            "supplier": supplier,
        }
    )


def attachment_limits(settings: ApiSettings) -> AttachmentLimits:
    """Chorus's limits on supporting documents, as configured."""
    return AttachmentLimits(
        max_bytes=settings.max_attachment_bytes,
        max_total_bytes=settings.max_attachments_total_bytes,
        max_count=settings.max_attachments,
    )


def _channel(
    configured: Channel,
    profile: SupplierProfile | None,
    invoice: InvoiceIn | None,
    *,
    has_pdf: bool,
    signature: Signature | None = None,
    with_attachments: bool = False,
    received: Channel | None = None,
) -> Channel:
    if received is not None:
        return received
    override = profile.delivery_format if profile else None
    channel = resolve_channel(
        configured,
        structure_override=Channel(override) if override else None,
        has_pdf=has_pdf,
        signed=signature is not None,
        # A signed Factur-X is deposited as is, so nothing can be added inside it: with
        # supporting documents it goes by `soumettre`, which takes them beside it.
        signed_facturx=signature is not None and signature.facturx and not with_attachments,
    )
    # A PDF invoice may come without lines; a Factur-X cannot (EN 16931 BR-16), so that PDF
    # goes as it always did, DEPOT_PDF_API, which keeps the supplier's number too.
    if channel is Channel.FACTURX and not (invoice and invoice.lines):
        return Channel.PDF
    return channel


def _completed(invoice: InvoiceIn, draft: InvoiceDraft) -> InvoiceIn:
    """The invoice as stored and answered: totals computed or to the cent (`300.30`, never
    `300.3`), and the VAT regime it is sent with."""
    totals = invoice.totals
    if totals is None:
        computed = compute_totals(draft.lines)
        net, vat, gross = computed.net, computed.vat, computed.gross
    else:
        net, vat, gross = (to_cents(_present(x)) for x in (totals.net, totals.vat, totals.gross))
    lines = invoice.lines and [
        line.model_copy(update={"unit_code": line.unit_code or DEFAULT_UNIT_CODE})
        for line in invoice.lines
    ]
    return invoice.model_copy(
        update={
            "totals": TotalsIn(net=net, vat=vat, gross=gross),
            "vat_regime": invoice.vat_regime or DEFAULT_VAT_REGIME,
            "lines": lines,
        }
    )


async def check_invoice(
    document: dict[str, Any],
    settings: ApiSettings,
    caller: Caller,
    lookup: RequirementsLookup = _no_lookup,
    *,
    suppliers: SupplierLookup | None = None,
    pdf_violations: Sequence[Violation] = (),
    with_pdf: bool = False,
    delivery_format: Channel = DEFAULT_CHANNEL,
    pdf: bytes | None = None,
    attachments: Sequence[UploadedAttachment] = (),
    received: ReceivedDocument | None = None,
) -> ValidatedInvoice:
    """Normalize and validate for the channel the invoice will take (`delivery_format`, or its
    structure's override); raises `InvoiceInvalid` listing every problem (the PDF's and the
    attachments' too). An ERP's own document (`received`, whose canonical reading `document`
    is) first passes its XSD and the EN 16931 schematron (`FormatInvalid`), and its problems
    name where in it each value was read."""
    conformance = await _conformance_first(received)
    parsed = parse_invoice(document)
    invoice = _compact_vat_number(parsed.invoice)
    signed: SignatureCheck = UNSIGNED
    if pdf is not None and not pdf_violations:
        signed = await check_signatures(pdf, require_trusted=settings.require_trusted_signature)
    violations = [*pdf_violations, *signed.violations, *parsed.violations]
    violations += attachment_violations(
        attachments, attachment_limits(settings), pdf_size=len(pdf) if pdf is not None else 0
    )
    requirements: BuyerRequirements | None = None
    profile: SupplierProfile | None = None
    draft: InvoiceDraft | None = None
    route = partial(
        _channel,
        delivery_format,
        has_pdf=with_pdf,
        signature=signed.signature,
        with_attachments=bool(attachments),
        received=_RECEIVED_CHANNELS[received.read.syntax] if received is not None else None,
    )
    channel = route(None, invoice)
    if invoice is not None:
        reported = {violation.field for violation in violations}
        # A malformed total was reported (and left out) by the parser: not "required" again.
        violations += [v for v in totals_violations(invoice) if v.field not in reported]
        supplier_registered: bool | None = None
        supplier_siret = invoice.supplier.siret if invoice.supplier else None
        if suppliers is not None and supplier_siret and is_valid_siret(supplier_siret):
            profile = await suppliers(supplier_siret)
            supplier_registered = profile is not None
            invoice = _with_defaults(invoice, profile)
            channel = route(profile, invoice)
        buyer = invoice.buyer
        if (
            buyer is not None
            and buyer.siret is not None
            and buyer.siret in settings.allowed_buyer_sirets
            and is_valid_siret(buyer.siret)
        ):
            requirements = await lookup(buyer.siret, buyer.service_code)
        policy = replace(
            _policy(settings, caller, today=utc_now().date()),
            already_reported=frozenset(v.field for v in violations),
            buyer_requirements=requirements,
            supplier_registered=supplier_registered,
            lines_optional=with_pdf,
            structured_document=needs_structured_document(channel),
            registered_supplier_address=profile.address if profile else None,
            country_codes=country_codes(),
        )
        draft = to_draft(invoice)
        violations += validate_invoice(draft, policy)
        violations += channel_violations(attachments, channel)
        if channel is Channel.FACTURX:
            violations += facturx_violations(signed.signature, invoice.invoice_number)
        # A signed PDF is deposited as is: nothing is embedded into it.
        if (
            channel is Channel.FACTURX
            and pdf is not None
            and not pdf_violations
            and signed.signature is None
        ):
            violations += await _facturx_pdf_violations(pdf)
    if violations or invoice is None or draft is None:
        for violation in violations:
            VALIDATION_FAILURES.labels(str(violation.code)).inc()
        if received is not None:
            violations = received.read.locate(violations)
        raise InvoiceInvalid(
            f"{len(violations)} problem(s) found; Chorus Pro would refuse this invoice.",
            errors=violations,
        )
    return ValidatedInvoice(
        invoice=_completed(invoice, draft),
        draft=draft,
        validation_mode="offline" if requirements is None else "online",
        channel=channel,
        signature=signed.signature,
        conformance=conformance,
        as_received=received is not None and not received.overridden,
    )


async def _conformance_first(received: ReceivedDocument | None) -> ConformanceReport | None:
    """The XSD and EN 16931 schematron on an ERP's document, in the process pool; every fatal
    finding refuses it before any canonical rule is looked at."""
    if received is None:
        return None
    report = await check_received(received.read, received.content)
    if not report.ok:
        VALIDATION_FAILURES.labels(str(Code.FORMAT_INVALID)).inc()
        raise FormatInvalid(
            f"The {report.syntax.upper()} document breaks {len(report.fatal)} rule(s) of its "
            "XSD or of EN 16931 (errors); warnings do not block.",
            findings=[finding_json(finding) for finding in report.fatal],
            warnings=[finding_json(finding) for finding in report.warnings],
        )
    return report


async def _facturx_pdf_violations(pdf: bytes) -> list[Violation]:
    """A PDF the Factur-X channel will embed the CII into must open (off the event loop)."""
    try:
        await asyncio.to_thread(ensure_embeddable, pdf)
    except PdfUnusable as unusable:
        message = f"A Factur-X is made of this PDF, but {unusable}."
        return [Violation("file", Code.PDF_INVALID, message)]
    return []


async def submit_invoice(
    session: AsyncSession,
    *,
    caller: Caller,
    document: dict[str, Any],
    idempotency_key: str | None,
    settings: ApiSettings,
    lookup: RequirementsLookup = _no_lookup,
    suppliers: SupplierLookup | None = None,
    pdf: UploadedFile | None = None,
    pdf_problems: Sequence[Violation] = (),
    delivery_format: Channel = DEFAULT_CHANNEL,
    attachments: Sequence[UploadedAttachment] = (),
    received: ReceivedDocument | None = None,
) -> Submission:
    """Validate, then store the invoice (its PDF and attachments, or the ERP's own document)
    with its outbox row in one transaction."""
    accepted = await check_invoice(
        document,
        settings,
        caller,
        lookup,
        suppliers=suppliers,
        pdf_violations=pdf_problems,
        with_pdf=pdf is not None,
        delivery_format=delivery_format,
        pdf=pdf.content if pdf is not None else None,
        attachments=attachments,
        received=received,
    )
    now = utc_now()
    received_pdf = received is not None and received.read.syntax is Syntax.FACTURX
    invoice = _new_invoice(caller, accepted, pdf is not None or received_pdf, now)
    signature = accepted.signature if pdf is not None else None
    extras = repository.Extras(
        signed=signature is not None,
        signer=signature.signer if signature else None,
        signed_at=signature.signed_at if signature else None,
        attachments=len(attachments),
    )
    # The answer is known before anything is written: the Idempotency-Key row holds it.
    created = invoice_out(invoice, extras).model_dump(mode="json")
    if accepted.conformance is not None:
        # What the schematron warned about the ERP's document: worth fixing, not blocking.
        created["warnings"] = [finding_json(f) for f in accepted.conformance.warnings]
    location = f"/v1/invoices/{invoice.id}"
    request_fingerprint = submission_fingerprint(
        accepted.invoice.model_dump(mode="json"), pdf, attachments, received
    )
    remembered = (
        None
        if idempotency_key is None
        else idempotency.completed_record(
            client_id=caller.client_id,
            key=idempotency_key,
            request_fingerprint=request_fingerprint,
            status=201,
            body=created,
            location=location,
            ttl=timedelta(hours=settings.idempotency_ttl_hours),
            now=now,
        )
    )
    rows = _new_rows(invoice, remembered, now)
    earlier = partial(_earlier_answer, session, caller, idempotency_key, request_fingerprint)
    whole = not (pdf or received or attachments)
    # A failed attempt writes nothing, but inside a longer PostgreSQL transaction it aborts that
    # transaction: a savepoint then keeps the request's transaction usable for what follows.
    guarded = insertion.needs_savepoint(session, rows, whole_unit_of_work=whole)
    # A second attempt only after a key left expired, or by a request that died, was freed.
    for _ in range(2):
        try:
            if guarded:
                async with session.begin_nested():
                    inserted = await insertion.insert_new_invoice(session, rows)
            else:
                inserted = await insertion.insert_new_invoice(
                    session, rows, whole_unit_of_work=whole
                )
        except (IntegrityError, insertion.DuplicateNaturalKey):
            # The natural key is the guard (on PostgreSQL its unique index: no SELECT first, the
            # common case pays no extra round trip). A request with this Idempotency-Key may
            # have stored it just before us.
            replay = await earlier()
            if replay is not None:
                return replay
            existing = await repository.find_id_by_natural_key(
                session, invoice.supplier_siret, invoice.invoice_number, invoice.type
            )
            raise _duplicate(existing) from None
        if inserted:
            break
        replay = await earlier()
        if replay is not None:
            return replay
    else:
        raise IdempotencyKeyInFlight(
            "Another request with this Idempotency-Key is being processed; retry later.",
            headers={"Retry-After": "1"},
        )
    if pdf is not None:
        session.add(_document_row(invoice, accepted.signature, pdf, now))
    if received is not None:
        session.add(_received_row(invoice, received, accepted, now))
    for position, attachment in enumerate(attachments, start=1):
        session.add(attachment_row(invoice.id, position, attachment, now))
    if pdf is not None or received is not None or attachments:
        await session.flush()
    return Submission(201, created, location, replayed=False)


async def _earlier_answer(
    session: AsyncSession,
    caller: Caller,
    key: str | None,
    request_fingerprint: str,
) -> Submission | None:
    """The replay of the first request with this key, if one stored an answer."""
    if key is None:
        return None
    replay = await idempotency.earlier_answer(
        session, client_id=caller.client_id, key=key, request_fingerprint=request_fingerprint
    )
    if replay is None:
        return None
    return Submission(replay.status, replay.body, replay.location, replayed=True)


def submission_fingerprint(
    normalized_invoice: dict[str, Any],
    pdf: UploadedFile | None,
    attachments: Sequence[UploadedAttachment] = (),
    received: ReceivedDocument | None = None,
) -> str:
    """What makes two submissions "the same request" for an Idempotency-Key.

    Absent (null) fields are left out, so a release that adds an optional field still replays
    the keys stored before it instead of answering IDEMPOTENCY_KEY_REUSED; for the same reason
    attachments count only when there are some.
    """
    request: dict[str, Any] = {
        "invoice": _without_nulls(normalized_invoice),
        "pdf": pdf.sha256 if pdf else None,
    }
    if attachments:
        request["attachments"] = [[a.filename, a.sha256] for a in attachments]
    if received is not None:
        request["document"] = received.sha256
    return idempotency.fingerprint(request)


def _without_nulls(document: Any) -> Any:
    if isinstance(document, dict):
        return {key: _without_nulls(value) for key, value in document.items() if value is not None}
    if isinstance(document, list):
        return [_without_nulls(item) for item in document]
    return document


def _new_invoice(
    caller: Caller, accepted: ValidatedInvoice, has_pdf: bool, now: datetime
) -> Invoice:
    """The invoice as it will be stored: an unsaved entity with its lines and first status."""
    invoice_in = accepted.invoice
    supplier, buyer = _present(invoice_in.supplier), _present(invoice_in.buyer)
    totals = _present(invoice_in.totals)
    payment = invoice_in.payment
    is_invoice = invoice_in.type == "invoice"
    return Invoice(
        id=new_id("inv_"),
        client_id=caller.client_id,
        status=QUEUED,
        type=invoice_in.type,
        invoice_number=_present(invoice_in.invoice_number),
        issue_date=_present(invoice_in.issue_date),
        due_date=invoice_in.due_date,
        currency=invoice_in.currency or "EUR",
        framework=invoice_in.framework or DEFAULT_FRAMEWORK,
        supplier_siret=_present(supplier.siret),
        supplier_name=supplier.name,
        supplier_vat_number=supplier.vat_number,
        buyer_siret=_present(buyer.siret),
        buyer_service_code=buyer.service_code,
        buyer_name=buyer.name,
        legal_commitment=invoice_in.legal_commitment,
        preceding_invoice=invoice_in.preceding_invoice,
        note=invoice_in.note,
        validator_siret=invoice_in.validator_siret,
        vat_regime=invoice_in.vat_regime or DEFAULT_VAT_REGIME,
        vat_exemption_reason=invoice_in.vat_exemption_reason,
        # A credit note carries no payment means (Chorus refuses one on an AVOIR).
        payment_means=(payment.means if payment else None) or DEFAULT_PAYMENT_MEANS
        if is_invoice
        else None,
        payment_iban=payment.iban if payment else None,
        payment_bic=payment.bic if payment else None,
        payment_terms=payment.terms if payment else None,
        **_address_columns("supplier", supplier.address),
        **_address_columns("buyer", buyer.address),
        contract_reference=invoice_in.contract_reference,
        total_net=_present(totals.net),
        total_vat=_present(totals.vat),
        total_gross=_present(totals.gross),
        validation_mode=accepted.validation_mode,
        has_pdf=has_pdf,
        chorus_channel=accepted.channel.value,
        created_at=now,
        updated_at=now,
        lines=[
            InvoiceLine(
                position=position,
                description=line.description or "",
                quantity=_present(line.quantity),
                unit_price=_present(line.unit_price),
                vat_rate=_present(line.vat_rate),
                net_amount=_present(line.net_amount),
                unit=line.unit,
                reference=line.reference,
                unit_code=line.unit_code or DEFAULT_UNIT_CODE,
            )
            for position, line in enumerate(accepted.draft.lines, start=1)
        ],
        history=[InvoiceStatusChange(at=now, status=QUEUED)],
    )


def _new_rows(
    invoice: Invoice, remembered: dict[str, Any] | None, now: datetime
) -> insertion.NewInvoiceRows:
    """What the unsaved `invoice` writes: its rows, its event, its outbox work, its key."""
    event, fan_out = event_rows(type=EventType.INVOICE_QUEUED, invoice=invoice, now=now)
    deliver = outbox_row(InvoiceWork.DELIVER, invoice_id=invoice.id, now=now)
    return insertion.NewInvoiceRows(
        invoice=_row(invoice),
        lines=[{**_row(line), "invoice_id": invoice.id} for line in invoice.lines],
        history={**_row(invoice.history[0]), "invoice_id": invoice.id},
        event=event,
        outbox=[fan_out, deliver],
        idempotency=remembered,
    )


def _document_row(
    invoice: Invoice, signature: Signature | None, pdf: UploadedFile, now: datetime
) -> InvoiceDocument:
    return InvoiceDocument(
        invoice_id=invoice.id,
        filename=chorus_filename(invoice.invoice_number),
        content_type="application/pdf",
        size=len(pdf.content),
        sha256=pdf.sha256,
        content=pdf.content,
        signed=signature is not None,
        signer=signature.signer if signature else None,
        signed_at=signature.signed_at if signature else None,
        created_at=now,
    )


def _received_row(
    invoice: Invoice, received: ReceivedDocument, accepted: ValidatedInvoice, now: datetime
) -> InvoiceDocument:
    """The ERP's document as received; `received_syntax` when the flux deposits these bytes."""
    extension = ".pdf" if received.read.syntax is Syntax.FACTURX else ".xml"
    return InvoiceDocument(
        invoice_id=invoice.id,
        filename=chorus_filename(invoice.invoice_number).removesuffix(".pdf") + extension,
        content_type=received.read.media_type,
        size=len(received.content),
        sha256=received.sha256,
        content=received.content,
        received_syntax=accepted.channel.value if accepted.as_received else None,
        created_at=now,
    )


def attachment_row(
    invoice_id: str, position: int, attachment: UploadedAttachment, now: datetime
) -> InvoiceAttachment:
    """The row of a supporting document (its bytes are the ones read from the request)."""
    return InvoiceAttachment(
        invoice_id=invoice_id,
        position=position,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=len(attachment.content),
        sha256=attachment.sha256,
        content=attachment.content,
        created_at=now,
    )


def _address_columns(party: str, address: AddressIn | None) -> dict[str, str | None]:
    """The invoice columns of a party's address (all NULL when the invoice gave none)."""
    given = to_address(address)
    return {
        f"{party}_address_line1": given.line1 if given else None,
        f"{party}_address_line2": given.line2 if given else None,
        f"{party}_postal_code": given.postal_code if given else None,
        f"{party}_city": given.city if given else None,
        f"{party}_country_code": given.country_code if given else None,
    }


def _row(entity: Invoice | InvoiceLine | InvoiceStatusChange) -> dict[str, Any]:
    """The column values of an unsaved entity, for a Core INSERT (database-made keys left out)."""
    return {
        column.key: getattr(entity, column.key)
        for column in entity.__table__.columns
        if not (column.primary_key and getattr(entity, column.key) is None)
    }


def _present(value: T | None) -> T:
    """A field validation guarantees; its absence here is a bug, not a client error."""
    if value is None:
        raise RuntimeError("a validated invoice lacks a required field")
    return value


def _duplicate(existing_id: str | None) -> DuplicateInvoice:
    return DuplicateInvoice(
        "An invoice with this supplier SIRET, number and type already exists.",
        existing_invoice_id=existing_id,
        existing_invoice=f"/v1/invoices/{existing_id}" if existing_id else None,
    )


async def get_invoice(session: AsyncSession, caller: Caller, invoice_id: str) -> InvoiceOut:
    """One invoice the caller may see; 404 otherwise (even when it exists for someone else)."""
    invoice = await repository.get(session, invoice_id)
    if invoice is None or not caller.may_see_supplier(invoice.supplier_siret):
        raise NotFound(f"No invoice {invoice_id}.")
    found = await repository.extras(session, [invoice.id])
    return invoice_out(invoice, found[invoice.id])


def _decode_cursor(cursor: str) -> str:
    try:
        decoded = base64.urlsafe_b64decode(cursor.encode("ascii") + b"==").decode("ascii")
    except (ValueError, UnicodeError) as exc:
        raise _bad_cursor() from exc
    if not decoded.startswith("inv_"):
        raise _bad_cursor()
    return decoded


def _bad_cursor() -> RequestInvalid:
    return RequestInvalid(errors=[Violation("cursor", Code.FIELD_INVALID, "Unknown cursor.")])


def _encode_cursor(invoice_id: str) -> str:
    return base64.urlsafe_b64encode(invoice_id.encode("ascii")).decode("ascii").rstrip("=")


async def list_invoices(
    session: AsyncSession,
    caller: Caller,
    *,
    status: str | None,
    supplier_siret: str | None,
    invoice_number: str | None,
    limit: int,
    cursor: str | None,
) -> InvoicePage:
    """A page of the caller's invoices, newest first."""
    where = InvoiceFilter(
        visible_suppliers=None if caller.is_operator else caller.supplier_sirets,
        status=status,
        supplier_siret=normalize_siret(supplier_siret) if supplier_siret else None,
        invoice_number=invoice_number.strip() if invoice_number else None,
        before_id=_decode_cursor(cursor) if cursor else None,
    )
    rows: Sequence[Invoice] = await repository.list_page(session, where, limit + 1)
    page = rows[:limit]
    found = await repository.extras(session, [row.id for row in page])
    items = [invoice_out(row, found[row.id]) for row in page]
    next_cursor = _encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return InvoicePage(items=items, next_cursor=next_cursor)


async def retry_invoice(session: AsyncSession, invoice_id: str) -> InvoiceOut:
    """Re-queue a `failed` invoice; its next attempt searches Chorus before resending."""
    invoice = await repository.get(session, invoice_id)
    if invoice is None:
        raise NotFound(f"No invoice {invoice_id}.")
    if invoice.status != InvoiceStatus.FAILED:
        raise InvoiceNotFailed(
            f"Invoice {invoice_id} is {invoice.status}; only failed invoices can be retried."
        )
    await transitions.requeue(session, invoice)
    await session.flush()
    refreshed = await repository.get(session, invoice_id, fresh=True)
    found = await repository.extras(session, [invoice_id])
    return invoice_out(refreshed or invoice, found[invoice_id])


async def get_pdf(session: AsyncSession, caller: Caller, invoice_id: str) -> InvoiceDocument:
    """The PDF uploaded with an invoice the caller may see."""
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None or not caller.may_see_supplier(invoice.supplier_siret):
        raise NotFound(f"No invoice {invoice_id}.")
    document = await session.get(InvoiceDocument, invoice_id) if invoice.has_pdf else None
    if document is None:
        raise NotFound(f"Invoice {invoice_id} was not sent with a PDF.")
    return document
