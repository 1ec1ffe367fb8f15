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


@pytest.mark.parametrize(
    ("line", "field", "hint"),
    [
        ({"quantity": "10,50"}, "lines.0.quantity", "e.g. 10.50"),
        ({"unit_price": "1 000.00"}, "lines.0.unit_price", "no thousands separator"),
        ({"unit_price": "1e13"}, "lines.0.unit_price", "999999999999.999999"),
        ({"unit_price": "0.0000001"}, "lines.0.unit_price", "6 decimal places"),
        ({"vat_rate": "Infinity"}, "lines.0.vat_rate", "e.g. 10.50"),
    ],
)
def test_a_malformed_amount_says_what_is_expected(
    line: dict[str, str], field: str, hint: str
) -> None:
    base = {"description": "x", "quantity": "1", "unit_price": "1", "vat_rate": "20"}
    parsed = parse_invoice(invoice_payload(lines=[{**base, **line}]))
    [violation] = [v for v in parsed.violations if v.field == field]
    assert violation.code is Code.FIELD_INVALID
    assert hint in violation.message


@pytest.mark.parametrize("blank", [None, "", "  "])
def test_a_blank_amount_is_absent(blank: str | None) -> None:
    parsed = parse_invoice(invoice_payload(totals={"net": blank, "vat": "1", "gross": "2"}))
    assert parsed.violations == []
    assert parsed.invoice is not None
    assert parsed.invoice.totals is not None
    assert parsed.invoice.totals.net is None


@pytest.mark.parametrize("text", ["20/11/2026", "2026-11-20T00:00:00", "20261120", "2026-13-01"])
def test_a_date_not_in_iso_form_says_yyyy_mm_dd(text: str) -> None:
    parsed = parse_invoice(invoice_payload(issue_date=text))
    [violation] = parsed.violations
    assert (violation.field, violation.code) == ("issue_date", Code.FIELD_INVALID)
    assert "YYYY-MM-DD" in violation.message


def test_nul_characters_are_reported_where_they_are_and_the_rest_is_read() -> None:
    document = invoice_payload(note="a\u0000b", supplier={"siret": "41234567010000", "n\u0000": 1})
    parsed = parse_invoice(document)
    assert {(v.field, v.code) for v in parsed.violations} == {
        ("note", Code.FIELD_INVALID),
        ("supplier.n\\u0000", Code.FIELD_INVALID),
    }
    assert parsed.invoice is not None
    assert parsed.invoice.invoice_number == document["invoice_number"]
    assert "\u0000" in document["note"]  # the caller's document is left as it was
