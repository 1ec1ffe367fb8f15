"""Canonical invoice to EN 16931 model: categories, breakdown, totals, payment means, parties."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from app.domain.invoice import InvoiceType, Line, Payment, compute_totals
from app.domain.rules import ValidationPolicy, validate_invoice
from app.formats.from_canonical import payment_means_code, to_en16931, vat_category
from app.formats.model import (
    DocumentType,
    PaymentInstructions,
    PrecedingInvoice,
    VatCategory,
    VatSubtotal,
)
from tests.formats.corpus import BUYER_ADDRESS, IBAN, SCENARIOS, SELLER_ADDRESS, Scenario, scenario

REASON = "Exoneration de TVA, article 261-4-4 a du CGI"


def _line(rate: str, quantity: str = "1", price: str = "10", unit: str | None = None) -> Line:
    return Line(
        description="x",
        quantity=Decimal(quantity),
        unit_price=Decimal(price),
        vat_rate=Decimal(rate),
        unit=unit,
    )


def _with(case: str, **overrides: object) -> Scenario:
    base = scenario(case)
    return replace(base, draft=replace(base.draft, **overrides))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rate", "regime", "reason", "category"),
    [
        ("20", "TVA_SUR_DEBIT", None, VatCategory.STANDARD),
        ("5.5", "TVA_SUR_ENCAISSEMENT", None, VatCategory.STANDARD),
        ("0", "EXONERATION", REASON, VatCategory.EXEMPT),
        ("0", "TVA_SUR_DEBIT", REASON, VatCategory.EXEMPT),
        ("0", "SANS_TVA", "TVA non applicable, art. 293 B du CGI", VatCategory.NOT_SUBJECT),
        ("0", "TVA_SUR_DEBIT", None, VatCategory.ZERO_RATED),
    ],
)
def test_a_lines_vat_category_follows_its_rate_and_the_vat_regime(
    rate: str, regime: str, reason: str | None, category: VatCategory
) -> None:
    draft = replace(scenario("single_rate").draft, vat_regime=regime, vat_exemption_reason=reason)

    assert vat_category(_line(rate), draft) is category


@pytest.mark.parametrize(
    ("means", "iban", "code"),
    [
        ("VIREMENT", IBAN, "30"),
        ("VIREMENT", None, "42"),  # 30 and 58 without an IBAN break BR-61
        ("PRELEVEMENT", None, "49"),
        ("CHEQUE", None, "20"),
        ("ESPECE", None, "10"),
        ("AUTRE", None, "ZZZ"),
        ("REPORT", None, "97"),
    ],
)
def test_chorus_payment_means_map_to_untdid_4461(means: str, iban: str | None, code: str) -> None:
    assert payment_means_code(means, iban) == code


def test_an_invoice_without_payment_is_paid_by_transfer_to_the_registered_account() -> None:
    invoice = _with("single_rate", payment=None).document()

    assert invoice.payment == PaymentInstructions(means_code="42")


def test_an_iban_transfer_keeps_account_bank_and_terms() -> None:
    invoice = scenario("iban_transfer").document()

    assert invoice.payment == PaymentInstructions(
        means_code="30", iban=IBAN, bic="AGRIFRPPXXX", terms="Paiement a 30 jours par virement."
    )


def test_a_credit_note_is_381_with_its_preceding_invoice_and_no_payment_means() -> None:
    invoice = _with("credit_note", payment=Payment(means="VIREMENT", iban=IBAN)).document()

    assert invoice.type is DocumentType.CREDIT_NOTE
    assert invoice.preceding_invoice == PrecedingInvoice("F2026-000101", date(2026, 11, 20))
    assert invoice.payment is None
    assert invoice.totals.payable == Decimal("120.00")  # positive amounts, as EN 16931 wants


def test_lines_get_their_net_to_the_cent_and_a_rec20_unit_or_c62() -> None:
    draft = replace(
        scenario("single_rate").draft,
        lines=(
            _line("20", "3", "0.333", "KGM"),
            _line("20", "2.5", "1.005", "pièce"),
            _line("20", "1", "5", None),
        ),
    )
    draft = replace(draft, totals=compute_totals(draft.lines))

    invoice = to_en16931(draft, seller_address=SELLER_ADDRESS, buyer_address=BUYER_ADDRESS)

    assert [(line.line_id, line.net_amount, line.unit_code) for line in invoice.lines] == [
        ("1", Decimal("1.00"), "KGM"),  # 0.999 rounds half up
        ("2", Decimal("2.51"), "C62"),  # 2.5125
        ("3", Decimal("5.00"), "C62"),
    ]


def test_the_vat_breakdown_is_per_category_and_rate_rounded_once_per_group() -> None:
    invoice = scenario("multi_rate").document()

    assert [
        (s.category, s.rate, s.taxable_amount, s.tax_amount) for s in invoice.vat_breakdown
    ] == [
        (VatCategory.STANDARD, Decimal("5.5"), Decimal("143.69"), Decimal("7.90")),
        (VatCategory.STANDARD, Decimal("10"), Decimal("166.66"), Decimal("16.67")),
        (VatCategory.STANDARD, Decimal("20"), Decimal("174.57"), Decimal("34.91")),
    ]


def test_exempt_lines_get_their_own_subtotal_with_the_reason() -> None:
    invoice = scenario("exempt_line").document()

    assert invoice.vat_breakdown == (
        VatSubtotal(VatCategory.EXEMPT, Decimal("0"), Decimal("1500.00"), Decimal("0.00"), REASON),
        VatSubtotal(VatCategory.STANDARD, Decimal("20"), Decimal("120.00"), Decimal("24.00")),
    )


def test_an_invoice_not_subject_to_vat_drops_the_seller_vat_number() -> None:
    invoice = scenario("not_subject").document()

    assert {line.vat_category for line in invoice.lines} == {VatCategory.NOT_SUBJECT}
    assert invoice.seller.vat_number is None  # BR-O-02
    assert invoice.vat_breakdown[0].exemption_reason == "TVA non applicable, art. 293 B du CGI"


@pytest.mark.parametrize("case", SCENARIOS, ids=lambda case: case.name)
def test_totals_agree_with_the_domains_arithmetic(case: Scenario) -> None:
    totals = case.document().totals
    domain = compute_totals(case.draft.lines)

    assert (totals.line_total, totals.tax_total, totals.tax_inclusive) == (
        domain.net,
        domain.vat,
        domain.gross,
    )
    assert totals.tax_exclusive == totals.line_total
    assert totals.payable == totals.tax_inclusive


def test_chorus_references_land_in_their_business_terms() -> None:
    case = scenario("cheque_with_contract")
    invoice = to_en16931(
        case.draft,
        seller_address=SELLER_ADDRESS,
        buyer_address=BUYER_ADDRESS,
        buyer_name="Ministere des Armees",
        delivery_date=date(2026, 11, 2),
    )

    assert invoice.buyer_reference == "SFACETAT"  # SE, BT-10
    assert invoice.order_reference == "1234567890"  # EJ, BT-13
    assert invoice.contract_reference == "MARCHE-2026-017"  # numero de marche, BT-12
    assert invoice.business_process == "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE"  # BT-23
    assert invoice.buyer.name == "Ministere des Armees"
    assert invoice.buyer.siret == "11000201100044"
    assert invoice.seller.siren == "412345670"
    assert invoice.delivery_date == date(2026, 11, 2)
    assert invoice.due_date == date(2026, 12, 20)


def test_the_delivery_date_defaults_to_the_issue_date() -> None:
    assert scenario("single_rate").document().delivery_date == date(2026, 11, 20)


@pytest.mark.parametrize(
    ("identifier_type", "scheme"),
    [
        ("UE_HORS_FRANCE", "0223"),
        ("HORS_UE", "0227"),
        ("RIDET", "0228"),
        ("TAHITI", "0229"),
        ("AUTRE", None),
    ],
)
def test_a_foreign_seller_keeps_its_identifier_with_the_icd_of_its_chorus_type(
    identifier_type: str, scheme: str | None
) -> None:
    case = replace(scenario("foreign_supplier"), seller_identifier_type=identifier_type)

    seller = case.document().seller

    assert (seller.siret, seller.identifier, seller.identifier_scheme) == (
        None,
        "DE123456789",
        scheme,
    )
    assert seller.address.country_code == "DE"


def test_a_french_seller_is_identified_by_its_siret_even_if_an_identifier_is_given() -> None:
    case = replace(scenario("single_rate"), seller_identifier="X", seller_identifier_type="AUTRE")

    seller = case.document().seller

    assert (seller.siret, seller.identifier, seller.identifier_scheme) == (
        "41234567010000",
        None,
        None,
    )


def test_an_invoice_the_rules_would_reject_is_a_programming_error() -> None:
    draft = replace(scenario("single_rate").draft, invoice_number=None)

    with pytest.raises(ValueError, match="invoice_number"):
        to_en16931(draft, seller_address=SELLER_ADDRESS, buyer_address=BUYER_ADDRESS)


@pytest.mark.parametrize(
    "case", [case for case in SCENARIOS if "foreign" not in case.tags], ids=lambda case: case.name
)
def test_every_french_corpus_invoice_passes_the_gateways_own_rules(case: Scenario) -> None:
    # The corpus stands for what submission accepts; the foreign supplier is left out because
    # the canonical model only knows SIRET suppliers so far.
    policy = ValidationPolicy(today=date(2026, 11, 20))

    assert validate_invoice(case.draft, policy) == []


def test_the_corpus_covers_invoices_and_credit_notes_and_200_lines() -> None:
    assert {case.draft.type for case in SCENARIOS} == {InvoiceType.INVOICE, InvoiceType.CREDIT_NOTE}
    assert len(scenario("many_lines").draft.lines) == 200


def test_the_lines_unit_code_wins_over_its_free_text_unit() -> None:
    draft = scenario("single_rate").draft
    first = replace(draft.lines[0], unit="heure", unit_code="HUR")
    invoice = to_en16931(
        replace(draft, lines=(first, *draft.lines[1:])),
        seller_address=SELLER_ADDRESS,
        buyer_address=BUYER_ADDRESS,
    )

    assert invoice.lines[0].unit_code == "HUR"


def test_the_contract_reference_is_bt_12() -> None:
    draft = replace(scenario("single_rate").draft, contract_reference="MARCHE-2026-17")

    invoice = to_en16931(draft, seller_address=SELLER_ADDRESS, buyer_address=BUYER_ADDRESS)

    assert invoice.contract_reference == "MARCHE-2026-17"
