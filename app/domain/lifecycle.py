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


REJECTED_CODES = frozenset({"REJETEE"})
PAID_CODES = frozenset({"MISE_EN_PAIEMENT"})


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
