"""Reading addresses, unit codes and the contract reference from a request body."""

from __future__ import annotations

from app.domain.invoice import Address
from app.domain.violations import Code
from app.invoices.parsing import parse_invoice, to_draft
from tests.builders import SUPPLIER_SIRET, invoice_payload


def test_addresses_are_trimmed_blanks_are_absent_and_codes_upper_cased() -> None:
    parsed = parse_invoice(
        invoice_payload(
            supplier={
                "siret": SUPPLIER_SIRET,
                "address": {
                    "line1": " 1 rue de la Paix ",
                    "line2": "",
                    "postal_code": "75002",
                    "city": "Paris",
                    "country_code": " fr ",
                },
            },
            contract_reference=" MARCHE-2026-01 ",
            lines=[
                {
                    "description": "Conseil",
                    "quantity": "1",
                    "unit_price": "100",
                    "vat_rate": "20",
                    "unit_code": " hur ",
                }
            ],
        )
    )
    assert parsed.violations == []
    assert parsed.invoice is not None
    draft = to_draft(parsed.invoice)
    assert draft.supplier.address == Address("1 rue de la Paix", None, "75002", "Paris", "FR")
    assert draft.buyer.address is None
    assert draft.lines[0].unit_code == "HUR"
    assert draft.contract_reference == "MARCHE-2026-01"


def test_an_address_of_empty_strings_is_no_address() -> None:
    empty = {"line1": "", "line2": " ", "postal_code": "", "city": "", "country_code": ""}
    parsed = parse_invoice(
        invoice_payload(buyer={"siret": "11000201100044", "service_code": "X", "address": empty})
    )
    assert parsed.invoice is not None
    assert to_draft(parsed.invoice).buyer.address is None


def test_nul_in_an_address_and_unknown_address_fields_are_refused_by_field() -> None:
    parsed = parse_invoice(
        invoice_payload(
            supplier={
                "siret": SUPPLIER_SIRET,
                "address": {"city": "Pa\x00ris", "country_code": "FR", "street": "x"},
            }
        )
    )
    assert {(v.field, v.code) for v in parsed.violations} == {
        ("supplier.address.city", Code.FIELD_INVALID),
        ("supplier.address.street", Code.FIELD_INVALID),
    }
    assert parsed.invoice is not None
    assert to_draft(parsed.invoice).supplier.address == Address(country_code="FR")
