"""The kinds of status event the gateway publishes."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """One event per invoice status change; consumers subscribe by these names."""

    INVOICE_QUEUED = "invoice.queued"
    INVOICE_SUBMITTED = "invoice.submitted"
    INVOICE_STATUS_CHANGED = "invoice.status_changed"
    INVOICE_REJECTED = "invoice.rejected"
    INVOICE_PAID = "invoice.paid"
    INVOICE_FAILED = "invoice.failed"
