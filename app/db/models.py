"""Every table, imported in one place so the metadata (and Alembic) sees them all."""

from app.auth.models import ApiClient
from app.db.base import Base
from app.events.models import Event, WebhookSubscription
from app.idempotency.models import IdempotencyRecord
from app.invoices.models import Invoice, InvoiceDocument, InvoiceLine, InvoiceStatusChange
from app.outbox.models import OutboxItem, WorkerHeartbeat
from app.structures.models import SupplierStructure

__all__ = [
    "ApiClient",
    "Base",
    "Event",
    "IdempotencyRecord",
    "Invoice",
    "InvoiceDocument",
    "InvoiceLine",
    "InvoiceStatusChange",
    "OutboxItem",
    "SupplierStructure",
    "WebhookSubscription",
    "WorkerHeartbeat",
]
