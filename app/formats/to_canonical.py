"""EN 16931 values as the canonical invoice says them: the inverse of `from_canonical`, shared
by the UBL and CII readers. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from app.domain.invoice import to_cents
from app.domain.violations import Code
from app.formats.fields import Fields, decimal_or_none
from app.formats.model import VatCategory

# BT-3 (UNTDID 1001): the only two types Chorus's canonical invoice knows.
DOCUMENT_TYPES = {"380": "invoice", "381": "credit_note"}

# BT-81 (UNTDID 4461) as Chorus's `modePaiement`; a code without a Chorus match is AUTRE.
PAYMENT_MEANS = {
    "30": "VIREMENT",
    "31": "VIREMENT",
    "42": "VIREMENT",
    "58": "VIREMENT",
    "49": "PRELEVEMENT",
    "59": "PRELEVEMENT",
    "20": "CHEQUE",
    "10": "ESPECE",
    "97": "REPORT",
    "ZZZ": "AUTRE",
}
OTHER_PAYMENT_MEANS = "AUTRE"

# BT-8, VAT point date code: UNTDID 2005 in UBL, 2475 in CII. "On payment" is Chorus's
# TVA_SUR_ENCAISSEMENT; "on issue" or "on delivery" is TVA_SUR_DEBIT.
VAT_POINT_REGIMES = {
    "432": "TVA_SUR_ENCAISSEMENT",
    "29": "TVA_SUR_ENCAISSEMENT",
    "3": "TVA_SUR_DEBIT",
    "35": "TVA_SUR_DEBIT",
    "5": "TVA_SUR_DEBIT",
    "72": "TVA_SUR_DEBIT",
}
_EXEMPT = frozenset({VatCategory.EXEMPT.value, VatCategory.REVERSE_CHARGE.value})
_EXEMPTED = frozenset(
    {
        VatCategory.EXEMPT.value,
        VatCategory.NOT_SUBJECT.value,
        VatCategory.REVERSE_CHARGE.value,
        VatCategory.INTRA_COMMUNITY.value,
        VatCategory.EXPORT.value,
    }
)


def document_type(fields: Fields, code: str | None, location: str, *, default: str) -> None:
    """`type` from BT-3; a code the canonical invoice cannot say is reported where it was read."""
    if code is None:
        fields.put("type", default, location)
        return
    kind = DOCUMENT_TYPES.get(code)
    if kind is None:
        fields.put("type", default, location)
        fields.problem(
            "type",
            Code.FIELD_INVALID,
            f"Document type code {code} is not accepted: 380 (invoice) or 381 (credit note).",
            location,
        )
        return
    fields.put("type", kind, location)


def payment_means(code: str | None) -> str | None:
    """Chorus's `modePaiement` for BT-81."""
    if code is None:
        return None
    return PAYMENT_MEANS.get(code, OTHER_PAYMENT_MEANS)


def vat_regime(categories: Iterable[str], point_code: str | None) -> str | None:
    """Chorus's `typeTva` from the VAT categories (BT-118) and the VAT point code (BT-8)."""
    found = set(categories)
    if found & _EXEMPT:
        return "EXONERATION"
    if found and found <= {VatCategory.NOT_SUBJECT.value}:
        return "SANS_TVA"
    return VAT_POINT_REGIMES.get(point_code or "")


def exemption_reason(category: str | None, reason: str | None, code: str | None) -> str | None:
    """BT-120 (else the VATEX code BT-121) of a category that needs one."""
    if category not in _EXEMPTED:
        return None
    return reason or code


def check_line_net(
    fields: Fields,
    index: int,
    quantity: str | None,
    price: str | None,
    net: str | None,
    location: str,
) -> None:
    """The canonical line's net is quantity times price: a document whose BT-131 says otherwise
    has line allowances or charges, which the canonical invoice cannot carry."""
    amounts = [decimal_or_none(value) for value in (quantity, price, net)]
    if any(amount is None for amount in amounts):
        return
    qty, unit, given = (amount for amount in amounts if amount is not None)
    computed = to_cents(qty * unit)
    if computed != given:
        fields.problem(
            f"lines.{index}",
            Code.TOTALS_MISMATCH,
            f"The line net amount {given} is not quantity times price ({computed}); line "
            "allowances and charges are not supported.",
            location,
        )


def refuse_allowances(fields: Fields, locations: list[str]) -> None:
    """Document-level allowances and charges (BG-20, BG-21) have no canonical field."""
    for location in locations:
        fields.problem(
            "totals",
            Code.FIELD_INVALID,
            "Document-level allowances and charges (BG-20, BG-21) are not supported: fold them "
            "into the lines.",
            location,
        )


def nonzero(text: str | None) -> bool:
    """Whether an amount is present and not zero."""
    value = decimal_or_none(text)
    return value is not None and value != Decimal(0)
