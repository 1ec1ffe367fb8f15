"""Valid request payloads, with keyword overrides for the case at hand."""

from __future__ import annotations

import copy
import itertools
from typing import Any

STATE_SIRET = "11000201100044"
SUPPLIER_SIRET = "41234567010000"  # the emulator's first demo supplier
SUPPLIER_VAT_NUMBER = "FR96412345670"  # its French VAT number (key 96 + SIREN)
OTHER_SUPPLIER_SIRET = "52345678810009"  # the emulator's second demo supplier

_numbers = itertools.count(1)


def invoice_number() -> str:
    """A fresh invoice number."""
    return f"F2026-{next(_numbers):06d}"


def invoice_payload(**overrides: Any) -> dict[str, Any]:
    """A valid invoice for the State; `overrides` replace top-level fields."""
    payload: dict[str, Any] = {
        "invoice_number": invoice_number(),
        "type": "invoice",
        "issue_date": "2026-11-20",
        "due_date": "2026-12-20",
        "currency": "EUR",
        "supplier": {"siret": SUPPLIER_SIRET, "name": "ACME FOURNITURES SAS"},
        "buyer": {"siret": STATE_SIRET, "service_code": "SFACETAT", "name": "Etat"},
        "legal_commitment": "1234567890",
        "framework": "A1_FACTURE_FOURNISSEUR",
        "lines": [
            {
                "description": "Ramettes de papier",
                "quantity": "2",
                "unit_price": "100.00",
                "vat_rate": "20",
            },
        ],
        "totals": {"net": "200.00", "vat": "40.00", "gross": "240.00"},
        "preceding_invoice": None,
        "note": None,
    }
    payload.update(copy.deepcopy(overrides))
    return payload


def ten_line_invoice(**overrides: Any) -> dict[str, Any]:
    """A valid invoice with ten lines (the benchmark's shape)."""
    lines = [
        {"description": f"Article {i}", "quantity": str(i), "unit_price": "12.34", "vat_rate": "20"}
        for i in range(1, 11)
    ]
    payload = invoice_payload(lines=lines)
    payload.pop("totals")
    payload.update(copy.deepcopy(overrides))
    return payload
