"""Reading request bodies: normalization first, every malformed field reported, no exceptions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.violations import Code
from app.errors import MalformedRequest
from app.invoices.parsing import decode_json_body, parse_invoice
from tests.builders import invoice_payload


def test_normalization_cleans_sirets_codes_and_blanks() -> None:
    parsed = parse_invoice(
        invoice_payload(
            supplier={
                "siret": "412 345 670 10000",
                "name": "  ACME  ",
                "vat_number": "fr96412345670",
            },
            buyer={"siret": 11000201100044, "service_code": " sfacetat ", "name": ""},
            legal_commitment=" 1234567890 ",
            currency="eur",
            framework=" a1_facture_fournisseur ",
            note="   ",
        )
    )
    assert parsed.violations == []
    invoice = parsed.invoice
    assert invoice is not None
    assert invoice.supplier is not None
    assert invoice.buyer is not None
    assert invoice.supplier.siret == "41234567010000"
    assert invoice.supplier.name == "ACME"
    assert invoice.supplier.vat_number == "FR96412345670"
    assert invoice.buyer.siret == "11000201100044"
    assert invoice.buyer.service_code == "SFACETAT"
    assert invoice.buyer.name is None
    assert invoice.legal_commitment == "1234567890"
    assert invoice.currency == "EUR"
    assert invoice.framework == "A1_FACTURE_FOURNISSEUR"
    assert invoice.note is None


def test_amounts_stay_exact_decimals() -> None:
    document = decode_json_body(b'{"lines": [{"quantity": 0.1, "unit_price": 123456789.123456}]}')
    parsed = parse_invoice(document)
    assert parsed.invoice is not None
    assert parsed.invoice.lines is not None
    assert parsed.invoice.lines[0].quantity == Decimal("0.1")
    assert parsed.invoice.lines[0].unit_price == Decimal("123456789.123456")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("issue_date", 1700000000),
        ("issue_date", "20/11/2026"),
        ("type", "bill"),
        ("lines", "two"),
        ("supplier", ["x"]),
        ("totals", {"net": "1e999999"}),
        ("totals", {"net": "12.3456789"}),
        ("invoice_number", {"a": 1}),
    ],
)
def test_malformed_fields_become_field_invalid_and_the_rest_is_still_read(
    field: str, value: object
) -> None:
    parsed = parse_invoice(invoice_payload(**{field: value}))
    assert parsed.violations
    assert all(v.field.split(".")[0] == field for v in parsed.violations)
    assert all(v.code is Code.FIELD_INVALID for v in parsed.violations)
    assert parsed.invoice is not None


def test_unknown_fields_are_reported_with_their_path() -> None:
    parsed = parse_invoice(
        invoice_payload(colour="blue", buyer={"siret": "11000201100044", "x": 1})
    )
    assert {(v.field, v.code) for v in parsed.violations} == {
        ("colour", Code.FIELD_INVALID),
        ("buyer.x", Code.FIELD_INVALID),
    }


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'"text"',
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": ' + b"9" * 5000 + b"}",
        b"\xff\xfe\x00garbage",
        b"\x80abc",
        b"[" * 100_000,
        b"",
    ],
)
def test_bodies_that_are_not_a_json_object_are_malformed(body: bytes) -> None:
    with pytest.raises(MalformedRequest):
        decode_json_body(body)
