"""Invoices stored straight in the database, so events can be recorded for them."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.scopes import Scope
from app.auth.service import create_client
from app.db.base import utc_now
from app.db.types import new_id
from app.domain.identifiers import STATE_SIRET
from app.invoices.models import Invoice
from tests.builders import SUPPLIER_SIRET, invoice_number


async def add_invoice(
    session: AsyncSession, *, supplier_siret: str = SUPPLIER_SIRET, **overrides: Any
) -> Invoice:
    """A queued invoice of `supplier_siret` (and its owning client), flushed in `session`."""
    client, _ = await create_client(
        session,
        name=f"erp-{uuid.uuid4().hex[:8]}",
        scopes=(Scope.INVOICES_WRITE,),
        supplier_sirets=(supplier_siret,),
    )
    now = utc_now()
    fields: dict[str, Any] = {
        "id": new_id("inv_"),
        "client_id": client.id,
        "status": "queued",
        "type": "invoice",
        "invoice_number": invoice_number(),
        "issue_date": date(2026, 11, 20),
        "currency": "EUR",
        "framework": "A1_FACTURE_FOURNISSEUR",
        "supplier_siret": supplier_siret,
        "buyer_siret": STATE_SIRET,
        "buyer_service_code": "SFACETAT",
        "legal_commitment": "1234567890",
        "total_net": Decimal("200.00"),
        "total_vat": Decimal("40.00"),
        "total_gross": Decimal("240.00"),
        "validation_mode": "offline",
        "created_at": now,
        "updated_at": now,
    }
    fields.update(overrides)
    invoice = Invoice(**fields)
    session.add(invoice)
    await session.flush()
    return invoice
