"""Chorus's codes for the gateway's own values, chosen here once (the emulator keeps its own)."""

from __future__ import annotations

from app.chorus.schemas import TypeFacture
from app.domain.invoice import InvoiceType


def type_facture(invoice_type: str) -> TypeFacture:
    """Chorus's `typeFacture` for an invoice type: AVOIR for a credit note, else FACTURE."""
    return "AVOIR" if invoice_type == InvoiceType.CREDIT_NOTE else "FACTURE"
