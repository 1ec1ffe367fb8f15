"""Postal addresses, unit codes and the contract reference, on plain drafts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.domain.invoice import Address, InvoiceDraft
from app.domain.rules import ValidationPolicy, validate_invoice
from app.domain.violations import Code
from tests.domain.test_rules import POLICY, codes, valid_draft

COUNTRY = "supplier.address.country_code"
POSTAL_CODE = "supplier.address.postal_code"
PARIS = Address("1 rue de la Paix", None, "75002", "Paris", "FR")


def with_addresses(supplier: Address | None, buyer: Address | None = None) -> InvoiceDraft:
    draft = valid_draft()
    return replace(
        draft,
        supplier=replace(draft.supplier, address=supplier),
        buyer=replace(draft.buyer, address=buyer),
    )


def test_complete_addresses_and_foreign_ones_are_valid() -> None:
    brussels = Address("Rue de la Loi 16", None, "1000", "Bruxelles", "BE")
    assert validate_invoice(with_addresses(PARIS, brussels), POLICY) == []


def test_an_address_with_only_a_country_is_enough_for_en16931() -> None:
    assert validate_invoice(with_addresses(Address(country_code="FR")), POLICY) == []


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (
            Address("1 rue de la Paix", None, "75002", "Paris", None),
            {("supplier.address.country_code", Code.FIELD_REQUIRED)},
        ),
        (
            replace(PARIS, country_code="FRA"),
            {("supplier.address.country_code", Code.FIELD_INVALID)},
        ),
        (
            replace(PARIS, country_code="F1"),
            {("supplier.address.country_code", Code.FIELD_INVALID)},
        ),
        (
            replace(PARIS, postal_code="7500"),
            {("supplier.address.postal_code", Code.FIELD_INVALID)},
        ),
        (
            replace(PARIS, postal_code="75 002"),
            {("supplier.address.postal_code", Code.FIELD_INVALID)},
        ),
    ],
)
def test_a_supplier_address_needs_a_country_code_and_a_french_postal_code_of_5_digits(
    address: Address, expected: set[object]
) -> None:
    assert codes(with_addresses(address)) == expected


def test_the_buyer_address_is_checked_the_same_way_and_the_message_names_the_rule() -> None:
    violations = validate_invoice(with_addresses(None, replace(PARIS, country_code="XXX")), POLICY)
    assert [(v.field, v.code) for v in violations] == [
        ("buyer.address.country_code", Code.FIELD_INVALID)
    ]
    assert "ISO 3166-1 alpha-2" in violations[0].message


def test_a_foreign_postal_code_is_not_held_to_the_french_format() -> None:
    london = Address("10 Downing Street", None, "SW1A 2AA", "London", "GB")
    assert validate_invoice(with_addresses(london), POLICY) == []


def test_unit_codes_are_checked_against_the_list_the_caller_gives() -> None:
    draft = valid_draft()
    line = replace(draft.lines[0], unit_code="XYZ")
    draft = replace(draft, lines=(line, replace(line, unit_code="HUR")), totals=None)
    policy = replace(POLICY, unit_codes=frozenset({"C62", "HUR"}))
    violations = validate_invoice(draft, policy)
    assert [(v.field, v.code) for v in violations] == [("lines.0.unit_code", Code.FIELD_INVALID)]
    assert "UN/ECE recommendation 20" in violations[0].message
    # Without a list (the pure default), nothing is claimed about the code.
    assert validate_invoice(draft, ValidationPolicy(today=POLICY.today)) == []


def test_an_absent_unit_code_is_valid_it_means_c62() -> None:
    policy = replace(POLICY, unit_codes=frozenset({"C62"}))
    assert validate_invoice(valid_draft(), policy) == []


@pytest.mark.parametrize(("length", "valid"), [(50, True), (51, False)])
def test_the_contract_reference_has_at_most_50_characters(length: int, valid: bool) -> None:
    draft = replace(valid_draft(), contract_reference="M" * length)
    expected = set() if valid else {("contract_reference", Code.FIELD_INVALID)}
    assert codes(draft) == expected
