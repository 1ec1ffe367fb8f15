"""Every table, imported in one place so the metadata (and Alembic) sees them all."""

from app.auth.models import ApiClient
from app.db.base import Base
from app.idempotency.models import IdempotencyRecord
from app.invoices.models import Invoice, InvoiceHistory, InvoiceLine
from app.outbox.models import OutboxItem
from app.structures.models import SupplierStructure

__all__ = [
    "ApiClient",
    "Base",
    "IdempotencyRecord",
    "Invoice",
    "InvoiceHistory",
    "InvoiceLine",
    "OutboxItem",
    "SupplierStructure",
]
