"""Every validation rule, on plain drafts: no database, no HTTP."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from app.domain.invoice import (
    MAX_AMOUNT,
    Buyer,
    InvoiceDraft,
    InvoiceType,
    Line,
    Payment,
    Supplier,
    Totals,
    compute_totals,
    vat_breakdown,
)
from app.domain.rules import BuyerRequirements, ValidationPolicy, validate_invoice
from app.domain.violations import Code

TODAY = date(2026, 11, 26)
POLICY = ValidationPolicy(today=TODAY)
D = Decimal


def valid_draft() -> InvoiceDraft:
    return InvoiceDraft(
        invoice_number="F2026-000123",
        type=InvoiceType.INVOICE,
        issue_date=date(2026, 11, 20),
        due_date=date(2026, 12, 20),
        currency="EUR",
        supplier=Supplier(siret="41234567010000", name="ACME", vat_number="FR96412345670"),
        buyer=Buyer(siret="11000201100044", service_code="SFACETAT"),
        legal_commitment="1234567890",
        lines=(Line("Papier", D("2"), D("100.00"), D("20")),),
        totals=Totals(D("200.00"), D("40.00"), D("240.00")),
    )


def codes(draft: InvoiceDraft, policy: ValidationPolicy = POLICY) -> set[tuple[str, Code]]:
    return {(v.field, v.code) for v in validate_invoice(draft, policy)}


def test_a_valid_invoice_has_no_violation() -> None:
    assert validate_invoice(valid_draft(), POLICY) == []


def with_buyer(**changes: object) -> InvoiceDraft:
    draft = valid_draft()
    return replace(draft, buyer=replace(draft.buyer, **changes))


def with_supplier(**changes: object) -> InvoiceDraft:
    draft = valid_draft()
    return replace(draft, supplier=replace(draft.supplier, **changes))


def with_line(**changes: object) -> InvoiceDraft:
    draft = valid_draft()
    return replace(draft, lines=(replace(draft.lines[0], **changes),), totals=None)


CASES = [
    (
        "no invoice number",
        replace(valid_draft(), invoice_number=None),
        ("invoice_number", Code.INVOICE_NUMBER_INVALID),
    ),
    (
        "21-character number",
        replace(valid_draft(), invoice_number="F" * 21),
        ("invoice_number", Code.INVOICE_NUMBER_INVALID),
    ),
    (
        "number with a space",
        replace(valid_draft(), invoice_number="F 1"),
        ("invoice_number", Code.INVOICE_NUMBER_INVALID),
    ),
    ("no issue date", replace(valid_draft(), issue_date=None), ("issue_date", Code.FIELD_REQUIRED)),
    (
        "issue date next week",
        replace(valid_draft(), issue_date=date(2026, 12, 3), due_date=None),
        ("issue_date", Code.FIELD_INVALID),
    ),
    (
        "due before issue",
        replace(valid_draft(), due_date=date(2026, 11, 1)),
        ("due_date", Code.FIELD_INVALID),
    ),
    ("no currency", replace(valid_draft(), currency=None), ("currency", Code.FIELD_REQUIRED)),
    ("dollars", replace(valid_draft(), currency="USD"), ("currency", Code.FIELD_INVALID)),
    (
        "unknown framework",
        replace(valid_draft(), framework="A99_X"),
        ("framework", Code.FIELD_INVALID),
    ),
    ("no supplier SIRET", with_supplier(siret=None), ("supplier.siret", Code.FIELD_REQUIRED)),
    (
        "bad supplier checksum",
        with_supplier(siret="41234567010001"),
        ("supplier.siret", Code.SIRET_INVALID),
    ),
    (
        "bad VAT key",
        with_supplier(vat_number="FR00412345670"),
        ("supplier.vat_number", Code.FIELD_INVALID),
    ),
    (
        "VAT number of another company",
        with_supplier(vat_number="FR17110002011"),
        ("supplier.vat_number", Code.FIELD_INVALID),
    ),
    ("no buyer SIRET", with_buyer(siret=None), ("buyer.siret", Code.FIELD_REQUIRED)),
    ("bad buyer checksum", with_buyer(siret="11000201100045"), ("buyer.siret", Code.SIRET_INVALID)),
    (
        "buyer not the State",
        with_buyer(siret="12345678200051"),
        ("buyer.siret", Code.BUYER_NOT_ALLOWED),
    ),
    ("State without SE", with_buyer(service_code=None), ("buyer.service_code", Code.SE_REQUIRED)),
    (
        "SE with a dash",
        with_buyer(service_code="SERVICE-1"),
        ("buyer.service_code", Code.SE_INVALID),
    ),
    (
        "FACTURES_PUBLIQUES",
        with_buyer(service_code="FACTURES_PUBLIQUES"),
        ("buyer.service_code", Code.SE_INVALID),
    ),
    (
        "State without EJ",
        replace(valid_draft(), legal_commitment=None),
        ("legal_commitment", Code.EJ_REQUIRED),
    ),
    (
        "State EJ of 9 digits",
        replace(valid_draft(), legal_commitment="123456789"),
        ("legal_commitment", Code.EJ_INVALID),
    ),
    (
        "State EJ with letters",
        replace(valid_draft(), legal_commitment="EJ12345678"),
        ("legal_commitment", Code.EJ_INVALID),
    ),
    (
        "credit note without its invoice",
        replace(valid_draft(), type=InvoiceType.CREDIT_NOTE),
        ("preceding_invoice", Code.FIELD_REQUIRED),
    ),
    ("no lines", replace(valid_draft(), lines=(), totals=None), ("lines", Code.FIELD_REQUIRED)),
    (
        "line without description",
        with_line(description=None),
        ("lines.0.description", Code.FIELD_REQUIRED),
    ),
    ("line without quantity", with_line(quantity=None), ("lines.0.quantity", Code.FIELD_REQUIRED)),
    ("zero quantity", with_line(quantity=D(0)), ("lines.0.quantity", Code.FIELD_INVALID)),
    ("negative price", with_line(unit_price=D(-1)), ("lines.0.unit_price", Code.FIELD_INVALID)),
    ("no VAT rate", with_line(vat_rate=None), ("lines.0.vat_rate", Code.FIELD_REQUIRED)),
    ("19 % VAT", with_line(vat_rate=D(19)), ("lines.0.vat_rate", Code.FIELD_INVALID)),
    (
        "net off by a cent",
        replace(valid_draft(), totals=Totals(D("200.01"), D("40.00"), D("240.01"))),
        ("totals.net", Code.TOTALS_MISMATCH),
    ),
    (
        "gross not net plus VAT",
        replace(valid_draft(), totals=Totals(D("200.00"), D("40.00"), D("241.00"))),
        ("totals.gross", Code.TOTALS_MISMATCH),
    ),
    (
        "totals in tenths of cents",
        replace(valid_draft(), totals=Totals(D("200.001"), D("40"), D("240.001"))),
        ("totals.net", Code.FIELD_INVALID),
    ),
    ("negative invoice", with_line(quantity=D(-2)), ("lines", Code.FIELD_INVALID)),
]


@pytest.mark.parametrize(("case", "draft", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_rule_reports_its_field_and_code(
    case: str, draft: InvoiceDraft, expected: tuple[str, Code]
) -> None:
    assert expected in codes(draft)


def test_every_violation_is_reported_at_once() -> None:
    draft = replace(
        valid_draft(),
        invoice_number=None,
        legal_commitment=None,
        buyer=Buyer(siret="11000201100044", service_code=None),
        supplier=Supplier(siret="41234567010001"),
        totals=Totals(D("1.00"), D("0.20"), D("1.20")),
    )
    assert codes(draft) >= {
        ("invoice_number", Code.INVOICE_NUMBER_INVALID),
        ("legal_commitment", Code.EJ_REQUIRED),
        ("buyer.service_code", Code.SE_REQUIRED),
        ("supplier.siret", Code.SIRET_INVALID),
        ("totals.net", Code.TOTALS_MISMATCH),
        ("totals.vat", Code.TOTALS_MISMATCH),
    }


def test_the_allowed_buyers_are_configurable() -> None:
    policy = replace(POLICY, allowed_buyer_sirets=frozenset({"12345678200051"}))
    draft = with_buyer(siret="12345678200051", service_code=None)
    draft = replace(draft, legal_commitment=None)
    assert codes(draft, policy) == set()


def test_other_buyers_accept_long_ejs_up_to_50_characters() -> None:
    policy = replace(POLICY, allowed_buyer_sirets=frozenset({"12345678200051"}))
    ok = replace(with_buyer(siret="12345678200051"), legal_commitment="X" * 50)
    too_long = replace(ok, legal_commitment="X" * 51)
    assert codes(ok, policy) == set()
    assert ("legal_commitment", Code.EJ_INVALID) in codes(too_long, policy)


def test_the_state_ej_format_can_be_widened() -> None:
    policy = replace(POLICY, state_ej_pattern=r"^[0-9]{8,12}$")
    assert codes(replace(valid_draft(), legal_commitment="123456789"), policy) == set()


def test_a_supplier_the_client_may_not_act_for_is_refused() -> None:
    policy = replace(POLICY, allowed_supplier_sirets=frozenset({"52345678810009"}))
    assert ("supplier.siret", Code.SUPPLIER_NOT_ALLOWED) in codes(valid_draft(), policy)


@pytest.mark.parametrize(
    ("requirements", "ej", "service", "expected"),
    [
        (
            BuyerRequirements(ej_or_service_required=True),
            None,
            None,
            {("legal_commitment", Code.EJ_REQUIRED)},
        ),
        (BuyerRequirements(ej_or_service_required=True), None, "SERVICE_A", set()),
        (BuyerRequirements(ej_or_service_required=True), "EJ1", None, set()),
        (
            BuyerRequirements(service_required=True),
            "EJ1",
            None,
            {("buyer.service_code", Code.SE_REQUIRED)},
        ),
        (
            BuyerRequirements(active_service_codes=frozenset({"A"})),
            None,
            "B",
            {("buyer.service_code", Code.SE_INVALID)},
        ),
        (BuyerRequirements(), None, None, set()),
    ],
)
def test_online_directory_flags_decide_what_a_buyer_requires(
    requirements: BuyerRequirements, ej: str | None, service: str | None, expected: set[object]
) -> None:
    policy = replace(
        POLICY, allowed_buyer_sirets=frozenset({"12345678200044"}), buyer_requirements=requirements
    )
    draft = replace(with_buyer(siret="12345678200044", service_code=service), legal_commitment=ej)
    assert codes(draft, policy) == expected


def test_a_pdf_invoice_may_omit_lines_but_then_needs_totals() -> None:
    policy = replace(POLICY, lines_optional=True)
    assert codes(replace(valid_draft(), lines=()), policy) == set()
    assert codes(replace(valid_draft(), lines=(), totals=None), policy) == {
        ("totals", Code.FIELD_REQUIRED)
    }


def test_fields_already_reported_by_the_parser_are_not_reported_twice() -> None:
    policy = replace(POLICY, already_reported=frozenset({"issue_date"}))
    assert codes(replace(valid_draft(), issue_date=None), policy) == set()


def test_line_nets_round_half_up_to_the_cent() -> None:
    assert Line(quantity=D("3"), unit_price=D("0.335")).net_amount == D("1.01")
    assert Line(quantity=D("1.5"), unit_price=D("0.01")).net_amount == D("0.02")


def test_vat_is_computed_per_rate_on_summed_nets() -> None:
    lines = [Line(quantity=D(1), unit_price=D("0.05"), vat_rate=D(10)) for _ in range(3)]
    # Per line, 0.005 rounds up to 0.01 three times (0.03); per rate, 0.15 * 10 % = 0.015 -> 0.02.
    assert vat_breakdown(lines)[0].vat == D("0.02")
    assert compute_totals(lines) == Totals(D("0.15"), D("0.02"), D("0.17"))


def test_totals_add_several_rates() -> None:
    lines = [
        Line(quantity=D(2), unit_price=D("100.00"), vat_rate=D(20)),
        Line(quantity=D(1), unit_price=D("10.00"), vat_rate=D("5.5")),
        Line(quantity=D(1), unit_price=D("3.00"), vat_rate=D("5.50")),
    ]
    assert compute_totals(lines) == Totals(D("213.00"), D("40.72"), D("253.72"))


def test_a_buyer_missing_from_chorus_is_not_allowed() -> None:
    policy = replace(POLICY, buyer_requirements=BuyerRequirements(known=False))
    assert codes(valid_draft(), policy) == {("buyer.siret", Code.BUYER_NOT_ALLOWED)}


EXEMPT_LINE = Line("Formation", D("1"), D("100.00"), D("0"))
EXEMPT = replace(valid_draft(), lines=(EXEMPT_LINE,), totals=Totals(D("100.00"), D(0), D("100.00")))
REASON = "TVA non applicable, art. 293 B du CGI"


@pytest.mark.parametrize(
    ("draft", "expected"),
    [
        (
            replace(valid_draft(), framework="A3_MEMOIRE_JUSTICE"),
            {("framework", Code.FIELD_INVALID)},
        ),
        (
            replace(valid_draft(), framework="A9_FACTURE_SOUSTRAITANT"),
            {("validator_siret", Code.FIELD_REQUIRED)},
        ),
        (
            replace(
                valid_draft(), framework="A12_FACTURE_COTRAITANT", validator_siret="12345678200052"
            ),
            {("validator_siret", Code.SIRET_INVALID)},
        ),
        (
            replace(
                valid_draft(), framework="A12_FACTURE_COTRAITANT", validator_siret="12345678200051"
            ),
            set(),
        ),
        (
            replace(valid_draft(), validator_siret="12345678200051"),
            {("validator_siret", Code.FIELD_INVALID)},
        ),
        (replace(valid_draft(), framework="A2_FACTURE_FOURNISSEUR_DEJA_PAYEE"), set()),
    ],
)
def test_only_the_frameworks_soumettre_accepts_and_their_validator(
    draft: InvoiceDraft, expected: set[object]
) -> None:
    assert codes(draft) == expected


def test_a_framework_refusal_names_the_accepted_ones_in_order() -> None:
    [violation] = validate_invoice(replace(valid_draft(), framework="A3_MEMOIRE_JUSTICE"), POLICY)
    assert violation.message.endswith(
        "accepted: A1_FACTURE_FOURNISSEUR, A2_FACTURE_FOURNISSEUR_DEJA_PAYEE, "
        "A9_FACTURE_SOUSTRAITANT, A12_FACTURE_COTRAITANT."
    )


@pytest.mark.parametrize(
    ("draft", "expected"),
    [
        (EXEMPT, {("vat_exemption_reason", Code.VAT_EXEMPTION_REASON_REQUIRED)}),
        (replace(EXEMPT, vat_exemption_reason=REASON), set()),
        (
            replace(EXEMPT, vat_regime="SANS_TVA"),
            {("vat_exemption_reason", Code.VAT_EXEMPTION_REASON_REQUIRED)},
        ),
        (replace(EXEMPT, vat_regime="SANS_TVA", vat_exemption_reason=REASON), set()),
        (
            replace(valid_draft(), vat_regime="EXONERATION"),
            {
                ("vat_exemption_reason", Code.VAT_EXEMPTION_REASON_REQUIRED),
                ("lines.0.vat_rate", Code.FIELD_INVALID),
                ("totals.vat", Code.FIELD_INVALID),
            },
        ),
        (replace(valid_draft(), vat_regime="TVA_SUR_ENCAISSEMENT"), set()),
        (replace(valid_draft(), vat_regime="TVA_AU_PIF"), {("vat_regime", Code.FIELD_INVALID)}),
    ],
)
def test_a_zero_rate_or_an_exempt_regime_needs_a_reason_and_no_vat(
    draft: InvoiceDraft, expected: set[object]
) -> None:
    assert codes(draft) == expected


@pytest.mark.parametrize(
    ("payment", "expected"),
    [
        (Payment(means="VIREMENT", iban="FR7630006000011234567890189", bic="BNPAFRPP"), set()),
        (Payment(means="PRELEVEMENT"), set()),
        (Payment(means="BITCOIN"), {("payment.means", Code.FIELD_INVALID)}),
        (Payment(iban="FR7630006000011234567890188"), {("payment.iban", Code.FIELD_INVALID)}),
        (Payment(bic="BNPA"), {("payment.bic", Code.FIELD_INVALID)}),
    ],
)
def test_payment_means_iban_and_bic_are_checked(payment: Payment, expected: set[object]) -> None:
    assert codes(replace(valid_draft(), payment=payment)) == expected


def test_a_credit_note_carries_no_payment_means() -> None:
    credit_note = replace(
        valid_draft(), type=InvoiceType.CREDIT_NOTE, preceding_invoice="F2026-000001"
    )
    assert codes(credit_note) == set()
    assert codes(replace(credit_note, payment=Payment(means="VIREMENT"))) == {
        ("payment", Code.FIELD_INVALID)
    }


def test_an_unregistered_supplier_is_refused_unless_the_client_may_not_use_it_anyway() -> None:
    unregistered = replace(POLICY, supplier_registered=False)
    assert codes(valid_draft(), unregistered) == {("supplier.siret", Code.SUPPLIER_NOT_REGISTERED)}
    assert codes(valid_draft(), replace(POLICY, supplier_registered=True)) == set()
    not_allowed = replace(unregistered, allowed_supplier_sirets=frozenset({"52345678810009"}))
    assert codes(valid_draft(), not_allowed) == {("supplier.siret", Code.SUPPLIER_NOT_ALLOWED)}


def test_a_line_net_over_the_limit_is_refused_with_the_limit() -> None:
    draft = with_line(quantity=D("999999999999"), unit_price=D("999999999999"))
    [violation] = validate_invoice(draft, POLICY)
    assert (violation.field, violation.code) == ("lines.0", Code.FIELD_INVALID)
    assert str(MAX_AMOUNT) in violation.message


def test_lines_whose_sum_is_over_the_limit_are_refused() -> None:
    line = Line("x", D("1"), D("800000000000"), D("20"))
    draft = replace(valid_draft(), lines=(line, line), totals=None)
    assert codes(draft) == {("lines", Code.FIELD_INVALID)}
    assert codes(replace(draft, lines=(line,))) == set()
