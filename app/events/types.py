"""The kinds of status event the gateway publishes."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """One event per invoice status change or structure change; consumers subscribe by name."""

    INVOICE_QUEUED = "invoice.queued"
    INVOICE_SUBMITTED = "invoice.submitted"
    INVOICE_STATUS_CHANGED = "invoice.status_changed"
    INVOICE_REJECTED = "invoice.rejected"
    INVOICE_PAID = "invoice.paid"
    INVOICE_FAILED = "invoice.failed"
    # Changes to a supplier structure's members (rattachements), keys and technical account;
    # `data.structure.siret` names it, `data.detail` says who acted on whom.
    STRUCTURE_ATTACHMENT_REQUESTED = "structure.attachment_requested"
    STRUCTURE_ATTACHMENT_REFUSED = "structure.attachment_refused"
    STRUCTURE_MEMBER_ATTACHED = "structure.member_attached"
    STRUCTURE_MEMBER_DETACHED = "structure.member_detached"
    STRUCTURE_PRINCIPAL_CHANGED = "structure.principal_changed"
    STRUCTURE_MEMBER_KEY_ROTATED = "structure.member_key_rotated"
    STRUCTURE_PASSWORD_ROTATED = "structure.password_rotated"  # noqa: S105 (an event name)
    STRUCTURE_RESUMED = "structure.resumed"
