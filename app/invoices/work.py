"""The outbox kinds of invoice work: what `forwarding` handles, enqueued by status changes.

Apart from the handlers, so that enqueuing them does not import forwarding's Chorus client,
rendering and checks. The values are stored in the outbox and must never change.
"""

from __future__ import annotations

from enum import StrEnum


class InvoiceWork(StrEnum):
    """Outbound work about one invoice."""

    DELIVER = "invoice.deliver"
    SYNC = "invoice.sync"
    FOLLOW_FLUX = "invoice.follow_flux"
