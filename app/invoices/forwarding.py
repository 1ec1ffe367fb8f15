"""Outbox handlers for invoices: deliver to Chorus Pro exactly once, then follow the lifecycle.

Exactly once, without an idempotency key on Chorus's side: any attempt after the first (and the
first after an operator's retry) searches Chorus for the invoice number before sending, because
an earlier attempt may have landed without us hearing the answer (a timeout, a cut connection,
a worker killed mid-call). Chorus's own duplicate refusal is the last guard: it too ends in a
search, and the invoice found is adopted instead of being marked rejected.

The search works because Chorus keeps the supplier's number, which it does on the flux channels
(the number is in the document) and with DEPOT_PDF_API. SAISIE_API numbers the invoice itself
(chorus-pro.md, `numeroFactureSaisi`), so there an earlier attempt that may have landed cannot
be excluded by searching: the invoice fails with AMBIGUOUS_DELIVERY for an operator to decide,
and is resent only when every earlier attempt is proven not to have reached Chorus.

A flux is deposited (`deposit_invoice`), then its report is followed (`follow_flux`) until Chorus
integrates the invoice, whose id a search by flux number then gives, or rejects it.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from app.buyers.directory import BuyerNotInChorus
from app.chorus.accounts import TechnicalAccount
from app.chorus.client import DEPOSIT_FLUX, SUBMIT_INVOICE, UPLOAD_ATTACHMENT, ChorusClient
from app.chorus.codes import type_facture
from app.chorus.errors import (
    ChorusAmbiguous,
    ChorusAuthError,
    ChorusDuplicate,
    ChorusError,
    ChorusNotSent,
    ChorusRefusal,
)
from app.chorus.schemas import FluxReport, FluxState, FluxSyntax, InvoiceSummary
from app.crypto import PasswordBox
from app.db.base import utc_now
from app.domain.lifecycle import ChorusStatus, InvoiceStatus, sync_delay_seconds
from app.formats.conformance import ConformanceReport, Syntax, check_async, check_xsd
from app.formats.facturx import PdfUnusable
from app.invoices import transitions
from app.invoices.channels import FLUX_CHANNELS, Channel, stored_channel
from app.invoices.chorus_mapping import UploadedPdf, to_submit_request
from app.invoices.documents import MissingAddress
from app.invoices.models import Invoice, InvoiceAttachment, InvoiceDocument
from app.invoices.parties import DirectoryAccess, stored_invoice_parties
from app.invoices.rendering import PdfRequired, RenderedDocument, render
from app.invoices.transitions import ChorusChange, Deposit
from app.invoices.work import InvoiceWork
from app.metrics_registry import DELIVERIES
from app.outbox.models import OutboxItem
from app.outbox.outcomes import Apply, Done, GiveUp, Outcome, Reschedule, RetryLater
from app.outbox.worker import Handler
from app.settings import ChorusSettings, OutboxSettings
from app.structures import service as structures
from app.structures.models import SupplierStructure
from app.structures.service import technical_account

# Only the calls that deposit the invoice (its PDF, then the invoice) can end it `rejected`.
DEPOSIT_ENDPOINTS = frozenset({SUBMIT_INVOICE, UPLOAD_ATTACHMENT, DEPOSIT_FLUX})

# Failure codes (product.md): the gateway stopped and an operator decides.
FORMAT_INVALID = "FORMAT_INVALID"
AMBIGUOUS_DELIVERY = "AMBIGUOUS_DELIVERY"
FLUX_INCIDENT = "FLUX_INCIDENT"
FLUX_TIMEOUT = "FLUX_TIMEOUT"
# Where a flux's rejection comes with texts only: the code recorded with them.
FLUX_REJECTED_CODE = FluxState.REJETE.value


@dataclass(frozen=True, slots=True)
class Forwarding:
    """What the invoice handlers use; the worker builds it from its process's resources."""

    # For the handlers' own short reads and the sending mark, never across a Chorus call.
    sessionmaker: async_sessionmaker[AsyncSession]
    chorus: ChorusClient
    password_box: PasswordBox
    directory: DirectoryAccess
    chorus_settings: ChorusSettings
    outbox_settings: OutboxSettings


@dataclass(frozen=True, slots=True)
class _Context:
    invoice: Invoice
    structure: SupplierStructure
    account: TechnicalAccount
    # The ERP's PDF, when the invoice came with one.
    document: InvoiceDocument | None
    attachments: tuple[InvoiceAttachment, ...] = ()
    # Whatever document is stored with the invoice (its PDF, or its UBL/CII/Factur-X original),
    # read for a delivery only.
    original: InvoiceDocument | None = None


@dataclass(frozen=True, slots=True)
class _Stored:
    """An invoice as read for delivery: its row and lines, structure, document, attachments."""

    invoice: Invoice
    structure: SupplierStructure | None
    document: InvoiceDocument | None
    attachments: tuple[InvoiceAttachment, ...]


@dataclass
class _Wanted:
    documents: bool
    waiters: list[asyncio.Future[_Stored | None]] = field(default_factory=list)


class InvoiceLoads:
    """Reads the invoices of the items a worker handles at once in one session, a few queries
    for the whole batch instead of a session and five queries per item.

    Handlers started together ask in the same turn of the event loop; the read runs on the
    next turn with every id asked so far. Each row comes from one read made before any HTTP
    call, so what a handler decides on is what the database held after its item was claimed.
    """

    def __init__(self, deps: Forwarding) -> None:
        self._deps = deps
        self._wanted: dict[str, _Wanted] = {}
        self._scheduled = False

    async def get(self, invoice_id: str, *, documents: bool) -> _Stored | None:
        """The invoice (None if it is gone), read with the others asked in this turn."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[_Stored | None] = loop.create_future()
        wanted = self._wanted.setdefault(invoice_id, _Wanted(documents))
        wanted.documents |= documents
        wanted.waiters.append(waiter)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._start)
        return await waiter

    def _start(self) -> None:
        self._scheduled = False
        wanted, self._wanted = self._wanted, {}
        task = asyncio.ensure_future(self._read(wanted))
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)

    async def _read(self, wanted: dict[str, _Wanted]) -> None:
        try:
            found = await _read_stored(
                self._deps,
                sorted(wanted),
                sorted(i for i, w in wanted.items() if w.documents),
            )
        except BaseException as error:
            for each in wanted.values():
                for waiter in each.waiters:
                    if not waiter.done():
                        waiter.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for invoice_id, each in wanted.items():
            for waiter in each.waiters:
                if not waiter.done():
                    waiter.set_result(found.get(invoice_id))


# Tasks nobody awaits are kept referenced until they end (asyncio holds weak references only).
_BACKGROUND: set[asyncio.Task[None]] = set()


async def _read_stored(
    deps: Forwarding, invoice_ids: list[str], with_documents: list[str]
) -> dict[str, _Stored]:
    async with deps.sessionmaker() as session:
        invoices = (
            await session.scalars(
                select(Invoice)
                .where(Invoice.id.in_(invoice_ids))
                .options(selectinload(Invoice.lines))
            )
        ).all()
        sirets = sorted({invoice.supplier_siret for invoice in invoices})
        structures = {
            s.siret: s
            for s in await session.scalars(
                select(SupplierStructure).where(SupplierStructure.siret.in_(sirets))
            )
        }
        documents: dict[str, InvoiceDocument] = {}
        attachments: dict[str, list[InvoiceAttachment]] = {}
        if with_documents:
            documents = {
                d.invoice_id: d
                for d in await session.scalars(
                    select(InvoiceDocument).where(InvoiceDocument.invoice_id.in_(with_documents))
                )
            }
            for attachment in await session.scalars(
                select(InvoiceAttachment)
                .where(InvoiceAttachment.invoice_id.in_(with_documents))
                .order_by(InvoiceAttachment.invoice_id, InvoiceAttachment.position)
            ):
                attachments.setdefault(attachment.invoice_id, []).append(attachment)
    return {
        invoice.id: _Stored(
            invoice,
            structures.get(invoice.supplier_siret),
            documents.get(invoice.id),
            tuple(attachments.get(invoice.id, ())),
        )
        for invoice in invoices
    }


async def _load(
    deps: Forwarding,
    item: OutboxItem,
    *,
    with_attachments: bool = False,
    loads: InvoiceLoads | None = None,
) -> _Context | Outcome:
    """Everything the handler needs, read (with the batch's others, given `loads`) in a short
    session closed before any HTTP call.

    With attachments (a delivery) comes every document stored with the invoice: the ERP's PDF,
    or its UBL, CII or Factur-X original; without, none.
    """
    if item.invoice_id is None:
        return GiveUp("outbox item without an invoice")
    if loads is not None:
        stored = await loads.get(item.invoice_id, documents=with_attachments)
    else:
        found = await _read_stored(
            deps, [item.invoice_id], [item.invoice_id] if with_attachments else []
        )
        stored = found.get(item.invoice_id)
    if stored is None:
        return GiveUp(f"invoice {item.invoice_id} not found")
    invoice, structure = stored.invoice, stored.structure
    recheck = utc_now() + timedelta(seconds=deps.outbox_settings.paused_recheck_seconds)
    if structure is None:
        DELIVERIES.labels("no_account").inc()
        return Reschedule(
            recheck,
            note=f"no technical account registered for supplier {invoice.supplier_siret} "
            "(gateway structures add)",
        )
    if structure.paused_at is not None:
        DELIVERIES.labels("paused").inc()
        return Reschedule(recheck, note=f"structure paused: {structure.paused_reason}")
    account = _account(deps, structure)
    document = stored.document if invoice.has_pdf else None
    return _Context(invoice, structure, account, document, stored.attachments, stored.document)


# Per password box, technical accounts by (login, ciphertext): opening a password is a Fernet
# decryption, the same for every item of a supplier.
_ACCOUNTS: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], TechnicalAccount]] = (
    weakref.WeakKeyDictionary()
)


def _account(deps: Forwarding, structure: SupplierStructure) -> TechnicalAccount:
    opened = _ACCOUNTS.setdefault(deps.password_box, {})
    key = (structure.login, structure.password_ciphertext)
    account = opened.get(key)
    if account is None:
        account = technical_account(structure, deps.password_box)
        if len(opened) >= 1000:
            opened.clear()
        opened[key] = account
    return account


def _chain(*applies: Apply | None) -> Apply:
    async def run(session: AsyncSession) -> None:
        for apply in applies:
            if apply is not None:
                await apply(session)

    return run


def invoice_handlers(uses: Forwarding) -> dict[str, Handler]:
    """The handler of each kind of invoice work, bound to what it uses."""
    # The invoices of the items in hand are read together, whatever their kind.
    loads = InvoiceLoads(uses)
    return {
        InvoiceWork.DELIVER: partial(deliver_invoice, uses, loads=loads),
        InvoiceWork.SYNC: partial(sync_invoice, uses, loads=loads),
        InvoiceWork.FOLLOW_FLUX: partial(follow_flux, uses, loads=loads),
    }


async def deliver_invoice(
    deps: Forwarding, item: OutboxItem, *, loads: InvoiceLoads | None = None
) -> Outcome:
    """Send one queued invoice to Chorus Pro and classify what happened."""
    loaded = await _load(deps, item, with_attachments=True, loads=loads)
    if not isinstance(loaded, _Context):
        return loaded
    invoice = loaded.invoice
    if invoice.status != InvoiceStatus.QUEUED or invoice.chorus_flux_number is not None:
        # Already settled (adopted, refused, re-queued as another item), or deposited as a
        # flux whose report another item follows.
        return Done()
    channel = stored_channel(invoice.chorus_channel, has_pdf=invoice.has_pdf)
    if channel in FLUX_CHANNELS:
        return await _deposit_flux(deps, loaded, item, channel)
    return await _submit(deps, loaded, item, channel)


async def _supplier_structure_id(
    deps: Forwarding, loaded: _Context
) -> tuple[int | None, Apply | None]:
    """Chorus's id of the supplier (looked up once, then kept) and what to remember of it."""
    structure_id = loaded.structure.chorus_structure_id
    remember_id: Apply | None = None
    if structure_id is None:
        siret = loaded.invoice.supplier_siret
        structure_id = await deps.chorus.find_structure_id(loaded.account, siret)
        if structure_id is None:
            return None, None
        remember_id = partial(
            structures.remember_structure_id, siret=siret, structure_id=structure_id
        )
    password_check = await _check_password_expiry(deps, loaded, structure_id)
    return structure_id, _chain(remember_id, password_check)


def _not_a_structure(invoice: Invoice) -> Outcome:
    return RetryLater(
        f"supplier {invoice.supplier_siret} is not a structure in Chorus Pro",
        on_give_up=partial(_give_up, invoice.id),
    )


def _reconcile_first(item: OutboxItem) -> bool:
    return item.attempts > 1 or bool(item.payload.get("reconcile_first"))


async def _submit(
    deps: Forwarding, loaded: _Context, item: OutboxItem, channel: Channel
) -> Outcome:
    """`soumettre`, as SAISIE_API or (with the ERP's PDF) DEPOT_PDF_API, DEPOT_PDF_SIGNE_API
    for a signed one; supporting documents are uploaded first, then named in the invoice.

    Re-uploading on a retry is harmless: an uploaded file Chorus shows nobody until an invoice
    names it."""
    invoice, client = loaded.invoice, deps.chorus
    first_sync = timedelta(seconds=deps.outbox_settings.sync_first_delay_seconds)
    # Where Chorus numbers the invoice itself, a search by our number proves nothing.
    unsearchable = channel is Channel.SAISIE and not deps.chorus_settings.saisie_keeps_number
    remember_id: Apply | None = None
    try:
        structure_id, remember_id = await _supplier_structure_id(deps, loaded)
        if structure_id is None:
            return _not_a_structure(invoice)
        if unsearchable and item.payload.get(SENDING) is not None:
            return _ambiguous(invoice, "an earlier attempt's soumettre got no answer")
        if _reconcile_first(item) and not unsearchable:
            found = await _find_in_chorus(deps, loaded.account, invoice, structure_id)
            if found is not None:
                DELIVERIES.labels("adopted").inc()
                return Done(apply=_chain(remember_id, _adopt(invoice.id, found, first_sync)))
        pdf = None
        if loaded.document is not None:
            attachment_id = await client.upload_attachment(
                loaded.account,
                loaded.document.filename,
                loaded.document.content_type,
                loaded.document.content,
            )
            pdf = UploadedPdf(
                attachment_id=attachment_id,
                name=loaded.document.filename,
                signed=loaded.document.signed,
            )
        uploaded = [
            UploadedPdf(
                attachment_id=await client.upload_attachment(
                    loaded.account, attachment.filename, attachment.content_type, attachment.content
                ),
                name=attachment.filename,
            )
            for attachment in loaded.attachments
        ]
        request = to_submit_request(
            invoice, supplier_structure_id=structure_id, pdf=pdf, attachments=uploaded
        )
        if unsearchable:
            await _mark_sending(deps, item)
        response = await client.submit_invoice(loaded.account, request)
    except ChorusDuplicate:
        return await _after_duplicate(deps, loaded, item, first_sync)
    except ChorusRefusal as refusal:
        if refusal.endpoint not in DEPOSIT_ENDPOINTS:
            # A lookup's refusal (search, structure) is no verdict on the invoice: retry.
            DELIVERIES.labels("not_sent").inc()
            return RetryLater(
                f"lookup refused: {refusal}",
                apply=_sent_nothing(item, unsearchable),
                on_give_up=partial(_give_up, invoice.id),
            )
        DELIVERIES.labels("refusal").inc()
        return Done(apply=_chain(remember_id, _refused(invoice.id, refusal)))
    except ChorusError as error:
        DELIVERIES.labels(_error_class(error)).inc()
        if unsearchable and isinstance(error, ChorusAmbiguous):
            return _ambiguous(invoice, str(error))
        # Not sent (or refused by the gateway's auth): nothing reached Chorus this time.
        return _also(_retry_or_pause(deps, invoice, error), _sent_nothing(item, unsearchable))
    DELIVERIES.labels("success").inc()
    return Done(
        apply=_chain(
            remember_id,
            partial(
                transitions.mark_submitted,
                invoice_id=invoice.id,
                chorus_invoice_id=response.identifiantFactureCPP,
                chorus_status=response.statutFacture or ChorusStatus.DEPOSITED,
                first_sync_in=first_sync,
                chorus_number=response.numeroFacture,
            ),
        )
    )


# The outbox payload key holding the attempt whose SAISIE_API `soumettre` is under way.
SENDING = "sending"


async def _mark_sending(deps: Forwarding, item: OutboxItem) -> None:
    """Record, before `soumettre`, that this attempt may create the invoice.

    Where a search cannot find an earlier attempt (SAISIE_API, numbered by Chorus), this mark is
    what tells the next attempt that one may have landed: it stays unless this attempt ends
    proven unsent. A worker killed before this point (say, holding a claimed batch) leaves no
    mark, so its items are simply sent. The one write outside the outcome's transaction, on
    purpose: it must be durable before the call.
    """
    async with deps.sessionmaker() as session, session.begin():
        await session.execute(
            update(OutboxItem)
            .where(OutboxItem.id == item.id)
            .values(payload={**item.payload, SENDING: item.attempts})
        )


def _sent_nothing(item: OutboxItem, unsearchable: bool) -> Apply | None:
    """Clear the sending mark of an attempt that ended proven unsent."""
    if not unsearchable:
        return None
    return partial(_clear_sending, item.id, payload=item.payload)


async def _clear_sending(item_id: int, session: AsyncSession, *, payload: dict[str, Any]) -> None:
    rest = {key: value for key, value in payload.items() if key != SENDING}
    await session.execute(update(OutboxItem).where(OutboxItem.id == item_id).values(payload=rest))


def _also(outcome: Outcome, extra: Apply | None) -> Outcome:
    """`outcome`, its domain changes followed by `extra`."""
    if extra is None:
        return outcome
    return replace(outcome, apply=_chain(outcome.apply, extra))


def _ambiguous(invoice: Invoice, why: str) -> Outcome:
    """SAISIE_API cannot be reconciled by number: stop rather than risk a second invoice."""
    DELIVERIES.labels("ambiguous_delivery").inc()
    return Done(
        apply=partial(
            transitions.mark_failed,
            invoice_id=invoice.id,
            code=AMBIGUOUS_DELIVERY,
            error=f"{why}; Chorus numbers SAISIE_API invoices itself, so the gateway cannot tell "
            "whether it has this one: check Chorus Pro, then retry or leave it",
        )
    )


def _refused(invoice_id: str, refusal: ChorusRefusal) -> Apply:
    return partial(
        transitions.mark_refused,
        invoice_id=invoice_id,
        code=str(refusal.code) if refusal.code is not None else "",
        label=refusal.label,
    )


async def _deposit_flux(
    deps: Forwarding, loaded: _Context, item: OutboxItem, channel: Channel
) -> Outcome:
    """Write, check and deposit the invoice's document; its report is followed afterwards."""
    invoice, client = loaded.invoice, deps.chorus
    first_sync = timedelta(seconds=deps.outbox_settings.sync_first_delay_seconds)
    remember_id: Apply | None = None
    try:
        structure_id, remember_id = await _supplier_structure_id(deps, loaded)
        if structure_id is None:
            return _not_a_structure(invoice)
        if _reconcile_first(item):
            # The number is in the document, so Chorus keeps it: a search finds an earlier
            # attempt once integrated; one still in processing will refuse the next as a
            # duplicate, and that refusal ends in this same search.
            found = await _find_in_chorus(deps, loaded.account, invoice, structure_id)
            if found is not None:
                DELIVERIES.labels("adopted").inc()
                return Done(apply=_chain(remember_id, _adopt(invoice.id, found, first_sync)))
        # The ERP's own document goes as received: it is the legal invoice, already checked.
        rendered = await _as_received(deps, loaded, channel) or await _render(deps, loaded, channel)
        if not isinstance(rendered, RenderedDocument):
            return rendered
        deposit = await client.deposit_flux(
            loaded.account,
            document=rendered.content,
            file_name=rendered.filename,
            syntax=rendered.syntax,
            signed=rendered.signed,
        )
    except ChorusRefusal as refusal:
        if refusal.endpoint not in DEPOSIT_ENDPOINTS:
            DELIVERIES.labels("not_sent").inc()
            return RetryLater(
                f"lookup refused: {refusal}", on_give_up=partial(_give_up, invoice.id)
            )
        DELIVERIES.labels("refusal").inc()
        return Done(apply=_chain(remember_id, _refused(invoice.id, refusal)))
    except ChorusError as error:
        DELIVERIES.labels(_error_class(error)).inc()
        return _retry_or_pause(deps, invoice, error)
    DELIVERIES.labels("deposited").inc()
    first_poll = timedelta(seconds=deps.chorus_settings.flux_poll_first_seconds)
    return Done(
        apply=_chain(
            remember_id,
            partial(
                transitions.mark_deposited,
                invoice_id=invoice.id,
                deposit=Deposit(
                    flux_number=deposit.numeroFluxDepot,
                    syntax=rendered.syntax,
                    filename=rendered.filename,
                    content_type=rendered.content_type,
                    content=rendered.content,
                ),
                first_poll_in=first_poll,
            ),
        )
    )


_RECEIVED: dict[Channel, tuple[FluxSyntax, Syntax]] = {
    Channel.CII: ("IN_DP_E1_CII_16B", Syntax.CII),
    Channel.UBL: ("IN_DP_E1_UBL_INVOICE", Syntax.UBL),
    Channel.FACTURX: ("IN_DP_E2_CII_FACTURX", Syntax.FACTURX),
}


async def _as_received(
    deps: Forwarding, loaded: _Context, channel: Channel
) -> RenderedDocument | None:
    """The ERP's UBL, CII or Factur-X when it is deposited byte for byte (checked against its
    XSD and schematron at submission); None when the gateway writes the document."""
    document = loaded.original
    if document is None or document.received_syntax != channel.value:
        return None
    syntax, checked_as = _RECEIVED[channel]
    return RenderedDocument(
        channel, syntax, checked_as, document.filename, document.content_type, document.content
    )


async def _render(
    deps: Forwarding, loaded: _Context, channel: Channel
) -> RenderedDocument | Outcome:
    """The checked document, or the invoice failed with FORMAT_INVALID (never deposited)."""
    invoice = loaded.invoice
    try:
        parties = await stored_invoice_parties(deps.directory, invoice, loaded.structure)
        if parties.buyer_name is None and parties.directory_unavailable:
            # Accepted offline: the name is Chorus's directory's, which may answer later.
            return RetryLater(
                "the buyer's name awaits Chorus's directory",
                on_give_up=partial(_give_up, invoice.id),
            )
        pdf = loaded.document.content if loaded.document is not None else None
        write = partial(
            render,
            invoice,
            channel,
            parties.addresses,
            pdf=pdf,
            buyer_name=parties.buyer_name,
            attachments=loaded.attachments,
            signed=loaded.document is not None and loaded.document.signed,
        )
        # Embedding into a large PDF takes a while: keep the event loop (and leases) moving.
        # A CII or UBL takes well under a millisecond, less than the hop to a thread.
        rendered = await asyncio.to_thread(write) if channel is Channel.FACTURX else write()
    except (MissingAddress, PdfRequired, PdfUnusable, ValueError) as problem:
        return _format_invalid(invoice, f"the document cannot be written: {problem}")
    report = await _conformance(deps, invoice, rendered)
    if not report.ok:
        rules = ", ".join(report.fatal_rule_ids)
        first = report.fatal[0]
        return _format_invalid(
            invoice,
            f"the {rendered.syntax} document breaks {rules} "
            f"(first: {first.rule_id} at {first.location}: {first.message})",
        )
    return rendered


# The syntaxes this process has already run the schematron on (the first of each always is).
_SCHEMATRON_SEEN: set[Syntax] = set()


def schematron_wanted(
    share: float, invoice_id: str, syntax: Syntax, seen: set[Syntax] = _SCHEMATRON_SEEN
) -> bool:
    """Whether a flux the gateway wrote runs the EN 16931 schematron before its deposit.

    Unless `share` is 0 (never: no schematron process at all), the first of each syntax in the
    process does (a broken writer shows at once after a deploy); then `share` of the invoices,
    picked by a hash of the id, so an invoice's retries get the same answer as its first attempt.
    """
    if share <= 0:
        return False
    if share >= 1 or syntax not in seen:
        seen.add(syntax)
        return True
    digest = hashlib.blake2b(invoice_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < share * 2**64


async def _conformance(
    deps: Forwarding, invoice: Invoice, rendered: RenderedDocument
) -> ConformanceReport:
    """The XSD always; the schematron (in the process pool) as `schematron_wanted` says."""
    syntax = rendered.conformance_syntax
    share = deps.chorus_settings.flux_schematron_share
    if schematron_wanted(share, invoice.id, syntax):
        return await check_async(rendered.content, syntax)
    # Microseconds for a CII or UBL; a Factur-X's PDF is read first, off the event loop.
    if syntax is Syntax.FACTURX:
        findings = await asyncio.to_thread(check_xsd, rendered.content, syntax)
    else:
        findings = check_xsd(rendered.content, syntax)
    return ConformanceReport(syntax, tuple(findings))


def _format_invalid(invoice: Invoice, error: str) -> Outcome:
    DELIVERIES.labels("format_invalid").inc()
    return Done(
        apply=partial(
            transitions.mark_failed, invoice_id=invoice.id, code=FORMAT_INVALID, error=error
        )
    )


async def follow_flux(
    deps: Forwarding, item: OutboxItem, *, loads: InvoiceLoads | None = None
) -> Outcome:
    """Read a deposited flux's report until Chorus integrates or rejects the invoice."""
    loaded = await _load(deps, item, loads=loads)
    if not isinstance(loaded, _Context):
        return loaded
    invoice, client = loaded.invoice, deps.chorus
    flux_number = invoice.chorus_flux_number
    if invoice.status != InvoiceStatus.QUEUED or flux_number is None:
        return Done()
    first_sync = timedelta(seconds=deps.outbox_settings.sync_first_delay_seconds)
    try:
        report = await client.flux_report(loaded.account, flux_number)
        if not report.is_final:
            return _poll_flux_again(deps, item, invoice, f"flux {report.etatCourantDepotFlux}")
        if report.etatCourantDepotFlux == FluxState.INCIDENTE:
            return _flux_incident(invoice, report)
        errors = report.errors_for(invoice.invoice_number)
        structure_id = loaded.structure.chorus_structure_id
        if errors or report.etatCourantDepotFlux == FluxState.REJETE:
            # Refused, perhaps as a duplicate of an earlier attempt of ours that landed:
            # then that one is the invoice, never a rejection.
            found = await _find_in_chorus(deps, loaded.account, invoice, structure_id)
            if found is not None:
                DELIVERIES.labels("adopted").inc()
                return Done(apply=_adopt(invoice.id, found, first_sync))
            DELIVERIES.labels("flux_rejected").inc()
            return Done(
                apply=partial(
                    transitions.mark_refused,
                    invoice_id=invoice.id,
                    code=FLUX_REJECTED_CODE,
                    label=" ; ".join(errors) or "Chorus Pro rejected the flux.",
                )
            )
        matches = await client.search_supplier_invoices(
            loaded.account, flux_number=flux_number, supplier_id=structure_id
        )
    except ChorusError as error:
        return _retry_or_pause(deps, invoice, error)
    exact = [m for m in matches if m.numeroFacture == invoice.invoice_number]
    if not exact:
        return _poll_flux_again(deps, item, invoice, "integrated, not yet searchable")
    DELIVERIES.labels("integrated").inc()
    return Done(apply=_adopt(invoice.id, exact[0], first_sync, adopted=False))


def _poll_flux_again(deps: Forwarding, item: OutboxItem, invoice: Invoice, state: str) -> Outcome:
    settings = deps.chorus_settings
    waited = utc_now() - item.created_at
    if waited > timedelta(hours=settings.flux_max_wait_hours):
        return Done(
            apply=partial(
                transitions.mark_failed,
                invoice_id=invoice.id,
                code=FLUX_TIMEOUT,
                error=f"flux {invoice.chorus_flux_number} still not final after "
                f"{settings.flux_max_wait_hours:g} h ({state})",
            )
        )
    polls = int(item.payload.get("polls", 0))
    delay = min(settings.flux_poll_max_seconds, settings.flux_poll_first_seconds * 2.0**polls)
    return Reschedule(
        utc_now() + timedelta(seconds=delay),
        note=state,
        apply=partial(_remember_polls, item.id, polls=polls + 1),
    )


async def _remember_polls(item_id: int, session: AsyncSession, *, polls: int) -> None:
    await session.execute(
        update(OutboxItem).where(OutboxItem.id == item_id).values(payload={"polls": polls})
    )


def _flux_incident(invoice: Invoice, report: FluxReport) -> Outcome:
    details = " ; ".join(
        f"{error.codeErreur}: {error.libelleErreur}" for error in report.listeErreurTechnique
    )
    return Done(
        apply=partial(
            transitions.mark_failed,
            invoice_id=invoice.id,
            code=FLUX_INCIDENT,
            error=f"Chorus Pro reports an incident on flux {invoice.chorus_flux_number}"
            + (f": {details}" if details else ""),
        )
    )


PASSWORD_CHECK_INTERVAL = timedelta(days=1)


async def _check_password_expiry(
    deps: Forwarding, loaded: _Context, structure_id: int
) -> Apply | None:
    """Read the technical password's expiry at most daily; a failure here never blocks sending."""
    checked = loaded.structure.checked_at
    if checked is not None and utc_now() - checked < PASSWORD_CHECK_INTERVAL:
        return None
    try:
        details = await deps.chorus.consult_structure(loaded.account, structure_id)
    except ChorusError:
        return None
    info = details.informationGenerales
    return partial(
        structures.remember_password_expiry,
        siret=loaded.structure.siret,
        expires_at=info.dateExpirationMotPasseCompteTech if info else None,
    )


def _error_class(error: ChorusError) -> str:
    if isinstance(error, ChorusAuthError):
        return "auth_failure"
    return "ambiguous" if isinstance(error, ChorusAmbiguous) else "not_sent"


def _retry_or_pause(deps: Forwarding, invoice: Invoice, error: ChorusError) -> Outcome:
    if isinstance(error, ChorusAuthError):
        # Credentials expired or revoked: retrying burns the budget and locks the account.
        recheck = utc_now() + timedelta(seconds=deps.outbox_settings.paused_recheck_seconds)
        reason = f"Chorus refused the technical account ({error})"
        return Reschedule(
            recheck,
            note=reason,
            apply=partial(structures.pause_structure, siret=invoice.supplier_siret, reason=reason),
        )
    retry_after = error.retry_after if isinstance(error, ChorusNotSent) else None
    kind = "ambiguous" if isinstance(error, ChorusAmbiguous) else "not sent"
    return RetryLater(
        f"{kind}: {error}",
        retry_after=retry_after,
        on_give_up=partial(_give_up, invoice.id),
    )


async def _give_up(invoice_id: str, session: AsyncSession) -> None:
    await transitions.mark_failed(session, invoice_id, error="retry budget spent")


async def _after_duplicate(
    deps: Forwarding, loaded: _Context, item: OutboxItem, first_sync: timedelta
) -> Outcome:
    """Chorus already has this number: it landed earlier; adopt it, never mark it rejected."""
    DELIVERIES.labels("duplicate").inc()
    invoice = loaded.invoice
    structure_id = loaded.structure.chorus_structure_id
    try:
        found = await _find_in_chorus(deps, loaded.account, invoice, structure_id)
    except ChorusError as error:
        return _retry_or_pause(deps, invoice, error)
    if found is None:
        return RetryLater(
            "Chorus reports a duplicate number that its search does not show yet",
            on_give_up=partial(_give_up, invoice.id),
        )
    return Done(apply=_adopt(invoice.id, found, first_sync))


async def _find_in_chorus(
    deps: Forwarding,
    account: TechnicalAccount,
    invoice: Invoice,
    structure_id: int | None,
) -> InvoiceSummary | None:
    matches = await deps.chorus.search_supplier_invoices(
        account,
        invoice_number=invoice.invoice_number,
        # The type is part of the natural key: an invoice and a credit note may share a number.
        invoice_type=type_facture(invoice.type),
        supplier_id=structure_id,
    )
    exact = [m for m in matches if m.numeroFacture == invoice.invoice_number]
    return exact[0] if exact else None


def _adopt(
    invoice_id: str, found: InvoiceSummary, first_sync: timedelta, *, adopted: bool = True
) -> Apply:
    return partial(
        transitions.mark_submitted,
        invoice_id=invoice_id,
        chorus_invoice_id=found.identifiantFactureCPP,
        chorus_status=found.statut or ChorusStatus.DEPOSITED,
        first_sync_in=first_sync,
        adopted=adopted,
        chorus_number=found.numeroFacture,
    )


async def sync_invoice(
    deps: Forwarding, item: OutboxItem, *, loads: InvoiceLoads | None = None
) -> Outcome:
    """Poll Chorus for a submitted invoice's new statuses, backing off while nothing changes."""
    loaded = await _load(deps, item, loads=loads)
    if not isinstance(loaded, _Context):
        return loaded
    invoice = loaded.invoice
    if invoice.chorus_invoice_id is None:
        return Done()
    settings = deps.outbox_settings
    try:
        history = await deps.chorus.invoice_history(loaded.account, invoice.chorus_invoice_id)
    except ChorusError as error:
        return _retry_or_pause(deps, invoice, error)
    seen = int(item.payload.get("seen", 0))
    polls = int(item.payload.get("polls", 0))
    new = [
        ChorusChange(code=change.code, at=change.at, comment=change.comment)
        for change in history.changes[seen:]
        if change.code
    ]
    polls = 0 if new else polls + 1
    apply = _chain(
        partial(transitions.apply_chorus_changes, invoice_id=invoice.id, changes=new)
        if new
        else None,
        partial(_remember_progress, item.id, seen=len(history.changes), polls=polls),
    )
    codes = {change.code for change in history.changes} | {history.current_status or ""}
    age = utc_now() - (invoice.chorus_status_at or invoice.created_at)
    if codes & set(settings.sync_final_statuses):
        return Done(apply=apply)
    if codes & FINAL_WITHOUT_PAYMENT and await _payment_never_reported(deps, loaded):
        return Done(apply=apply)
    if age > timedelta(days=settings.sync_max_age_days):
        return Done(apply=apply)
    delay = sync_delay_seconds(
        polls, first=settings.sync_first_delay_seconds, maximum=settings.sync_max_delay_seconds
    )
    return Reschedule(utc_now() + timedelta(seconds=delay), apply=apply)


# Where a buyer whose directory flag says it never reports payment stops moving (chorus-pro.md §4).
FINAL_WITHOUT_PAYMENT = frozenset({ChorusStatus.MANDATED, ChorusStatus.BOOKED})


async def _payment_never_reported(deps: Forwarding, loaded: _Context) -> bool:
    """The buyer's `statutMiseEnPaiementNestPasRemonte`; unknown (Chorus silent) reads False."""
    try:
        profile = await deps.directory.buyers.profile(loaded.account, loaded.invoice.buyer_siret)
    except (BuyerNotInChorus, ChorusError):
        return False  # keep polling: the flag is asked again on the next poll
    return profile.payment_status_not_reported


async def _remember_progress(item_id: int, session: AsyncSession, *, seen: int, polls: int) -> None:
    await session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id)
        .values(payload={"seen": seen, "polls": polls})
    )
