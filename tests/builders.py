"""Valid request payloads, with keyword overrides for the case at hand.

They live in `harness.samples`, shared with the benchmarks and the chaos run; the tests import
them from here.
"""

from __future__ import annotations

from app.domain.identifiers import STATE_SIRET
from harness.samples import (
    OTHER_SUPPLIER_SIRET,
    SUPPLIER_SIRET,
    SUPPLIER_VAT_NUMBER,
    invoice_number,
    invoice_payload,
    ten_line_invoice,
)

__all__ = [
    "OTHER_SUPPLIER_SIRET",
    "STATE_SIRET",
    "SUPPLIER_SIRET",
    "SUPPLIER_VAT_NUMBER",
    "invoice_number",
    "invoice_payload",
    "ten_line_invoice",
]
