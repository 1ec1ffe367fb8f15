"""What an EN 16931 document needs beyond Chorus's rules: only on structured channels."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from app.domain.invoice import Address, InvoiceDraft, InvoiceType, Line, Payment
from app.domain.rules import BuyerRequirements, ValidationPolicy, validate_invoice
from app.domain.violations import Code
from tests.domain.test_rules import TODAY, valid_draft

REGISTERED = Address("12 rue des Fournisseurs", None, "69002", "Lyon", "FR")
COUNTRIES = frozenset({"FR", "DE", "BE", "XI"})
STRUCTURED = ValidationPolicy(
    today=TODAY,
    structured_document=True,
    registered_supplier_address=REGISTERED,
    country_codes=COUNTRIES,
    supplier_registered=True,
)
D = Decimal


def codes(draft: InvoiceDraft, policy: ValidationPolicy = STRUCTURED) -> set[tuple[str, Code]]:
    return {(v.field, v.code) for v in validate_invoice(draft, policy)}


def with_supplier(**changes: object) -> InvoiceDraft:
    draft = valid_draft()
    return replace(draft, supplier=replace(draft.supplier, **changes))


def with_buyer(**changes: object) -> InvoiceDraft:
    draft = valid_draft()
    return replace(draft, buyer=replace(draft.buyer, **changes))


def exempt(regime: str) -> InvoiceDraft:
    lines = (Line("Formation", D("1"), D("100"), D("0")),)
    return replace(
        with_supplier(vat_number=None),
        lines=lines,
        totals=None,
        vat_regime=regime,
        vat_exemption_reason="Exoneration, art. 261-4-4 a du CGI",
    )


def test_a_valid_invoice_with_a_registered_address_passes() -> None:
    assert validate_invoice(valid_draft(), STRUCTURED) == []


@pytest.mark.parametrize(
    ("draft", "policy", "expected"),
    [
        pytest.param(
            with_supplier(name=None),
            STRUCTURED,
            {("supplier.name", Code.FIELD_REQUIRED)},
            id="seller_name_BR_06",
        ),
        pytest.param(
            valid_draft(),
            replace(STRUCTURED, registered_supplier_address=None),
            {("supplier.address", Code.FIELD_REQUIRED)},
            id="no_seller_address_anywhere_BR_09",
        ),
        pytest.param(
            valid_draft(),
            replace(STRUCTURED, registered_supplier_address=Address(city="Lyon")),
            {("supplier.address", Code.FIELD_REQUIRED)},
            id="registered_address_without_country",
        ),
        pytest.param(
            valid_draft(),
            replace(STRUCTURED, registered_supplier_address=Address(country_code="ZZ")),
            {("supplier.address", Code.FIELD_INVALID)},
            id="registered_country_not_iso_BR_CL_14",
        ),
        pytest.param(
            with_supplier(address=Address(country_code="ZZ")),
            STRUCTURED,
            {("supplier.address.country_code", Code.FIELD_INVALID)},
            id="invoice_country_not_iso",
        ),
        pytest.param(
            with_buyer(address=Address(country_code="QQ")),
            STRUCTURED,
            {("buyer.address.country_code", Code.FIELD_INVALID)},
            id="buyer_country_not_iso",
        ),
        pytest.param(
            with_supplier(vat_number=None),
            STRUCTURED,
            {("supplier.vat_number", Code.FIELD_REQUIRED)},
            id="standard_rate_without_seller_vat_BR_S_02",
        ),
        pytest.param(
            exempt("EXONERATION"),
            STRUCTURED,
            {("supplier.vat_number", Code.FIELD_REQUIRED)},
            id="exempt_without_seller_vat_BR_E_02",
        ),
        pytest.param(
            exempt("TVA_SUR_DEBIT"),
            STRUCTURED,
            {("supplier.vat_number", Code.FIELD_REQUIRED)},
            id="zero_rated_line_without_seller_vat",
        ),
        pytest.param(
            replace(valid_draft(), note="Livraison\x01 urgente"),
            STRUCTURED,
            {("note", Code.FIELD_INVALID)},
            id="control_character_in_note",
        ),
        pytest.param(
            replace(valid_draft(), lines=(Line("Papier\ufffe", D("2"), D("100.00"), D("20")),)),
            STRUCTURED,
            {("lines.0.description", Code.FIELD_INVALID)},
            id="non_character_in_a_line",
        ),
        pytest.param(
            with_supplier(address=Address("1 rue\x0b", None, "75002", "Paris", "FR")),
            STRUCTURED,
            {("supplier.address.line1", Code.FIELD_INVALID)},
            id="control_character_in_an_address",
        ),
        pytest.param(
            replace(valid_draft(), payment=Payment(terms="30 jours\x1b")),
            STRUCTURED,
            {("payment.terms", Code.FIELD_INVALID)},
            id="control_character_in_payment_terms",
        ),
        pytest.param(
            replace(valid_draft(), lines=(), totals=valid_draft().totals),
            replace(STRUCTURED, lines_optional=True),
            {("lines", Code.FIELD_REQUIRED)},
            id="factur_x_without_lines_BR_16",
        ),
        pytest.param(
            valid_draft(),
            replace(STRUCTURED, buyer_requirements=BuyerRequirements(name=None)),
            {("buyer.name", Code.FIELD_REQUIRED)},
            id="buyer_without_a_name_anywhere_BR_07",
        ),
    ],
)
def test_what_the_document_could_not_carry_is_named(
    draft: InvoiceDraft, policy: ValidationPolicy, expected: set[tuple[str, Code]]
) -> None:
    assert codes(draft, policy) == expected


@pytest.mark.parametrize(
    ("draft", "policy"),
    [
        pytest.param(
            valid_draft(), replace(STRUCTURED, registered_supplier_address=None), id="addr"
        ),
        pytest.param(with_supplier(name=None, vat_number=None), STRUCTURED, id="name_and_vat"),
        pytest.param(replace(valid_draft(), note="a\x01b"), STRUCTURED, id="control_character"),
        pytest.param(
            with_buyer(address=Address(country_code="QQ")), STRUCTURED, id="unknown_country"
        ),
    ],
)
def test_saisie_and_pdf_keep_todays_rules(draft: InvoiceDraft, policy: ValidationPolicy) -> None:
    assert codes(draft, replace(policy, structured_document=False)) == set()


@pytest.mark.parametrize(
    "draft",
    [
        pytest.param(
            with_supplier(address=Address("2 av. de l'ERP", None, "69001", "Lyon", "FR")),
            id="invoice_address_without_a_registered_one",
        ),
        pytest.param(exempt("SANS_TVA"), id="not_subject_needs_no_seller_vat_BR_O_02"),
        pytest.param(with_buyer(name=None), id="buyer_name_comes_from_the_directory_later"),
        pytest.param(with_buyer(address=Address(country_code="XI")), id="northern_ireland"),
        pytest.param(
            replace(valid_draft(), note="Ligne 1\n\tLigne 2\r\n€ ✓ 𝄞"), id="tabs_lines_and_unicode"
        ),
    ],
)
def test_what_the_document_can_carry_passes(draft: InvoiceDraft) -> None:
    policy = STRUCTURED
    if draft.supplier.address is not None:
        policy = replace(STRUCTURED, registered_supplier_address=None)
    assert codes(draft, policy) == set()


def test_the_directory_name_satisfies_the_buyer_name() -> None:
    online = replace(STRUCTURED, buyer_requirements=BuyerRequirements(name="ETAT"))
    assert codes(with_buyer(name=None), online) == set()


def test_a_supplier_the_caller_may_not_use_hears_nothing_of_its_structure() -> None:
    policy = replace(
        STRUCTURED,
        registered_supplier_address=None,
        allowed_supplier_sirets=frozenset({"52345678810009"}),
    )
    assert codes(with_supplier(vat_number=None), policy) == {
        ("supplier.siret", Code.SUPPLIER_NOT_ALLOWED)
    }
    unregistered = replace(STRUCTURED, registered_supplier_address=None, supplier_registered=False)
    assert codes(with_supplier(vat_number=None), unregistered) == {
        ("supplier.siret", Code.SUPPLIER_NOT_REGISTERED)
    }


def test_a_credit_note_is_held_to_the_same_document_rules() -> None:
    credit = replace(
        with_supplier(vat_number=None), type=InvoiceType.CREDIT_NOTE, preceding_invoice="F1"
    )
    assert codes(credit) == {("supplier.vat_number", Code.FIELD_REQUIRED)}
