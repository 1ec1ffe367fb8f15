"""How Chorus Pro's lifecycle codes map to the gateway's one-word status."""

from __future__ import annotations

from enum import StrEnum


class InvoiceStatus(StrEnum):
    """The gateway's answer to "where is my invoice?"."""

    QUEUED = "queued"
    SUBMITTED = "submitted"
    REJECTED = "rejected"
    PAID = "paid"
    FAILED = "failed"


class ChorusStatus(StrEnum):
    """Chorus Pro's own lifecycle codes (`statut`, `histoStatutCode`), named in English here."""

    DEPOSITED = "DEPOSEE"
    IN_TRANSIT = "EN_COURS_ACHEMINEMENT"
    MADE_AVAILABLE = "MISE_A_DISPOSITION"
    REJECTED = "REJETEE"
    SUSPENDED = "SUSPENDUE"
    MANDATED = "MANDATEE"
    PAYMENT_ISSUED = "MISE_EN_PAIEMENT"
    BOOKED = "COMPTABILISEE"
    ABANDONED = "ABANDONNEE"
    DELETED = "SUPPRIMEE"
    SERVICE_DONE = "SERVICE_FAIT"
    TO_RECYCLE = "A_RECYCLER"


REJECTED_CODES = frozenset({ChorusStatus.REJECTED})
PAID_CODES = frozenset({ChorusStatus.PAYMENT_ISSUED})
# Chorus reports nothing after these: following the invoice further would only cost calls.
FINAL_CODES = (
    ChorusStatus.REJECTED,
    ChorusStatus.PAYMENT_ISSUED,
    ChorusStatus.ABANDONED,
    ChorusStatus.DELETED,
)


def status_for_chorus(code: str) -> InvoiceStatus:
    """The gateway status an invoice has once Chorus reports `code`."""
    if code in REJECTED_CODES:
        return InvoiceStatus.REJECTED
    if code in PAID_CODES:
        return InvoiceStatus.PAID
    return InvoiceStatus.SUBMITTED


def sync_delay_seconds(polls_without_change: int, *, first: float, maximum: float) -> float:
    """Polling back-off: `first`, doubling while nothing changes, capped at `maximum`."""
    return min(maximum, first * 2.0 ** max(0, polls_without_change))
