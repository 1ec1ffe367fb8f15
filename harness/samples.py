"""Sample invoices and PDFs: the valid requests the benchmarks, the chaos run and the tests send.

Plain functions with keyword overrides. The SIRETs are the emulator's seeded structures, so an
invoice built here is accepted by a gateway delivering to the emulator.
"""

from __future__ import annotations

import copy
import io
import itertools
from typing import Any

from pypdf import PdfWriter

from app.domain.identifiers import STATE_SIRET

SUPPLIER_SIRET = "41234567010000"  # the emulator's first demo supplier
SUPPLIER_VAT_NUMBER = "FR96412345670"  # its French VAT number (key 96 + SIREN)
OTHER_SUPPLIER_SIRET = "52345678810009"  # the emulator's second demo supplier
OTHER_SUPPLIER_VAT_NUMBER = "FR31523456788"

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


def blank_pdf(
    *, pages: int = 1, attachments: dict[str, bytes] | None = None, password: str | None = None
) -> bytes:
    """An A4 PDF of blank pages, with these attachments, encrypted when a password is given."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    for name, content in (attachments or {}).items():
        writer.add_attachment(name, content)
    if password is not None:
        writer.encrypt(user_password=password, owner_password="owner")  # noqa: S106 - not a secret
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
