"""Outbox handlers for invoices: deliver to Chorus Pro exactly once, then follow the lifecycle.

Exactly once, without an idempotency key on Chorus's side: any attempt after the first (and the
first after an operator's retry) searches Chorus for the invoice number before sending, because
an earlier attempt may have landed without us hearing the answer (a timeout, a cut connection,
a worker killed mid-call). Chorus's own duplicate refusal is the last guard: it too ends in a
search, and the invoice found is adopted instead of being marked rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.buyers.directory import BuyerNotInChorus
from app.chorus.accounts import TechnicalAccount
from app.chorus.client import SUBMIT_INVOICE, UPLOAD_ATTACHMENT
from app.chorus.errors import (
    ChorusAmbiguous,
    ChorusAuthError,
    ChorusDuplicate,
    ChorusError,
    ChorusNotSent,
    ChorusRefusal,
)
from app.chorus.schemas import InvoiceSummary
from app.db.base import utc_now
from app.domain.lifecycle import InvoiceStatus, sync_delay_seconds
from app.invoices import repository, transitions
from app.invoices.chorus_mapping import UploadedPdf, to_submit_request
from app.invoices.models import Invoice, InvoiceDocument
from app.invoices.transitions import ChorusChange
from app.metrics_registry import DELIVERIES
from app.outbox.models import OutboxItem
from app.outbox.outcomes import Apply, Done, GiveUp, Outcome, Reschedule, RetryLater
from app.resources import Resources
from app.structures.models import SupplierStructure
from app.structures.service import technical_account

# Only the calls that deposit the invoice (its PDF, then the invoice) can end it `rejected`.
DEPOSIT_ENDPOINTS = frozenset({SUBMIT_INVOICE, UPLOAD_ATTACHMENT})


@dataclass(frozen=True, slots=True)
class _Context:
    invoice: Invoice
    structure: SupplierStructure
    account: TechnicalAccount
    document: InvoiceDocument | None


async def _load(resources: Resources, item: OutboxItem) -> _Context | Outcome:
    """Everything the handler needs, read in a short session closed before any HTTP call."""
    if item.invoice_id is None:
        return GiveUp("outbox item without an invoice")
    async with resources.sessionmaker() as session:
        invoice = await repository.get(session, item.invoice_id)
        if invoice is None:
            return GiveUp(f"invoice {item.invoice_id} not found")
        structure = await session.get(SupplierStructure, invoice.supplier_siret)
        document = await session.get(InvoiceDocument, invoice.id) if invoice.has_pdf else None
    recheck = utc_now() + timedelta(seconds=resources.settings.outbox.paused_recheck_seconds)
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
    account = technical_account(structure, resources.password_box)
    return _Context(invoice, structure, account, document)


def _chain(*applies: Apply | None) -> Apply:
    async def run(session: AsyncSession) -> None:
        for apply in applies:
            if apply is not None:
                await apply(session)

    return run


async def deliver_invoice(resources: Resources, item: OutboxItem) -> Outcome:
    """Send one queued invoice to Chorus Pro and classify what happened."""
    loaded = await _load(resources, item)
    if not isinstance(loaded, _Context):
        return loaded
    invoice, client = loaded.invoice, resources.chorus
    if invoice.status != InvoiceStatus.QUEUED:
        return Done()  # already settled (adopted, refused, or re-queued as another item)
    first_sync = timedelta(seconds=resources.settings.outbox.sync_first_delay_seconds)
    remember_id: Apply | None = None
    try:
        structure_id = loaded.structure.chorus_structure_id
        if structure_id is None:
            structure_id = await client.find_structure_id(loaded.account, invoice.supplier_siret)
            if structure_id is None:
                return RetryLater(
                    f"supplier {invoice.supplier_siret} is not a structure in Chorus Pro",
                    on_give_up=partial(_give_up, invoice.id),
                )
            remember_id = partial(
                transitions.remember_structure_id,
                siret=invoice.supplier_siret,
                structure_id=structure_id,
            )
        password_check = await _check_password_expiry(resources, loaded, structure_id)
        remember_id = _chain(remember_id, password_check)
        if item.attempts > 1 or item.payload.get("reconcile_first"):
            found = await _find_in_chorus(resources, loaded.account, invoice, structure_id)
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
            pdf = UploadedPdf(attachment_id=attachment_id, name=loaded.document.filename)
        request = to_submit_request(invoice, supplier_structure_id=structure_id, pdf=pdf)
        response = await client.submit_invoice(loaded.account, request)
    except ChorusDuplicate:
        return await _after_duplicate(resources, loaded, item, first_sync)
    except ChorusRefusal as refusal:
        if refusal.endpoint not in DEPOSIT_ENDPOINTS:
            # A lookup's refusal (search, structure) is no verdict on the invoice: retry.
            DELIVERIES.labels("not_sent").inc()
            return RetryLater(
                f"lookup refused: {refusal}", on_give_up=partial(_give_up, invoice.id)
            )
        DELIVERIES.labels("refusal").inc()
        return Done(
            apply=_chain(
                remember_id,
                partial(
                    transitions.mark_refused,
                    invoice_id=invoice.id,
                    code=str(refusal.code) if refusal.code is not None else "",
                    label=refusal.label,
                ),
            )
        )
    except ChorusError as error:
        DELIVERIES.labels(_error_class(error)).inc()
        return _retry_or_pause(resources, invoice, error)
    DELIVERIES.labels("success").inc()
    return Done(
        apply=_chain(
            remember_id,
            partial(
                transitions.mark_submitted,
                invoice_id=invoice.id,
                chorus_invoice_id=response.identifiantFactureCPP,
                chorus_status=response.statutFacture or "DEPOSEE",
                first_sync_in=first_sync,
            ),
        )
    )


PASSWORD_CHECK_INTERVAL = timedelta(days=1)


async def _check_password_expiry(
    resources: Resources, loaded: _Context, structure_id: int
) -> Apply | None:
    """Read the technical password's expiry at most daily; a failure here never blocks sending."""
    checked = loaded.structure.checked_at
    if checked is not None and utc_now() - checked < PASSWORD_CHECK_INTERVAL:
        return None
    try:
        details = await resources.chorus.consult_structure(loaded.account, structure_id)
    except ChorusError:
        return None
    info = details.informationGenerales
    return partial(
        transitions.remember_password_expiry,
        siret=loaded.structure.siret,
        expires_at=info.dateExpirationMotPasseCompteTech if info else None,
    )


def _error_class(error: ChorusError) -> str:
    if isinstance(error, ChorusAuthError):
        return "auth_failure"
    return "ambiguous" if isinstance(error, ChorusAmbiguous) else "not_sent"


def _retry_or_pause(resources: Resources, invoice: Invoice, error: ChorusError) -> Outcome:
    if isinstance(error, ChorusAuthError):
        # Credentials expired or revoked: retrying burns the budget and locks the account.
        recheck = utc_now() + timedelta(seconds=resources.settings.outbox.paused_recheck_seconds)
        reason = f"Chorus refused the technical account ({error})"
        return Reschedule(
            recheck,
            note=reason,
            apply=partial(transitions.pause_structure, siret=invoice.supplier_siret, reason=reason),
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
    resources: Resources, loaded: _Context, item: OutboxItem, first_sync: timedelta
) -> Outcome:
    """Chorus already has this number: it landed earlier; adopt it, never mark it rejected."""
    DELIVERIES.labels("duplicate").inc()
    invoice = loaded.invoice
    structure_id = loaded.structure.chorus_structure_id
    try:
        found = await _find_in_chorus(resources, loaded.account, invoice, structure_id)
    except ChorusError as error:
        return _retry_or_pause(resources, invoice, error)
    if found is None:
        return RetryLater(
            "Chorus reports a duplicate number that its search does not show yet",
            on_give_up=partial(_give_up, invoice.id),
        )
    return Done(apply=_adopt(invoice.id, found, first_sync))


async def _find_in_chorus(
    resources: Resources,
    account: TechnicalAccount,
    invoice: Invoice,
    structure_id: int | None,
) -> InvoiceSummary | None:
    matches = await resources.chorus.search_supplier_invoices(
        account,
        invoice_number=invoice.invoice_number,
        invoice_type="AVOIR" if invoice.type == "credit_note" else "FACTURE",
        supplier_id=structure_id,
    )
    exact = [m for m in matches if m.numeroFacture == invoice.invoice_number]
    return exact[0] if exact else None


def _adopt(invoice_id: str, found: InvoiceSummary, first_sync: timedelta) -> Apply:
    return partial(
        transitions.mark_submitted,
        invoice_id=invoice_id,
        chorus_invoice_id=found.identifiantFactureCPP,
        chorus_status=found.statut or "DEPOSEE",
        first_sync_in=first_sync,
        adopted=True,
    )


async def sync_invoice(resources: Resources, item: OutboxItem) -> Outcome:
    """Poll Chorus for a submitted invoice's new statuses, backing off while nothing changes."""
    loaded = await _load(resources, item)
    if not isinstance(loaded, _Context):
        return loaded
    invoice = loaded.invoice
    if invoice.chorus_invoice_id is None:
        return Done()
    settings = resources.settings.outbox
    try:
        history = await resources.chorus.invoice_history(loaded.account, invoice.chorus_invoice_id)
    except ChorusError as error:
        return _retry_or_pause(resources, invoice, error)
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
    if codes & FINAL_WITHOUT_PAYMENT and await _payment_never_reported(resources, loaded):
        return Done(apply=apply)
    if age > timedelta(days=settings.sync_max_age_days):
        return Done(apply=apply)
    delay = sync_delay_seconds(
        polls, first=settings.sync_first_delay_seconds, maximum=settings.sync_max_delay_seconds
    )
    return Reschedule(utc_now() + timedelta(seconds=delay), apply=apply)


# Where a buyer whose directory flag says it never reports payment stops moving (chorus-pro.md §4).
FINAL_WITHOUT_PAYMENT = frozenset({"MANDATEE", "COMPTABILISEE"})


async def _payment_never_reported(resources: Resources, loaded: _Context) -> bool:
    """The buyer's `statutMiseEnPaiementNestPasRemonte`; unknown (Chorus silent) reads False."""
    try:
        profile = await resources.buyers.profile(loaded.account, loaded.invoice.buyer_siret)
    except (BuyerNotInChorus, ChorusError):
        return False  # keep polling: the flag is asked again on the next poll
    return profile.payment_status_not_reported


async def _remember_progress(item_id: int, session: AsyncSession, *, seen: int, polls: int) -> None:
    await session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id)
        .values(payload={"seen": seen, "polls": polls})
    )
