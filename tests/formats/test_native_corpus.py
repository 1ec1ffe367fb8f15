"""The native checks catch everything the official EN 16931 schematron would refuse.

Issue 9: "Submission keeps its fast native checks (they must catch everything the schematron
would refuse for data the gateway accepts)". Hypothesis generates varied canonical invoices as
an ERP sends them; whatever submission accepts for the CII channel is turned into the EN 16931
model the way delivery does (addresses and buyer name resolved by `app.invoices.documents`),
written as CII and UBL, and must pass the XSD and the schematron with no fatal finding.
Conversely, invoices the schematron refuses (or that no XML could carry) are refused at
submission, naming the field, while the saisie channel still takes them as before.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, example, find, given, settings
from hypothesis import strategies as st

from app.auth.scopes import Scope
from app.auth.service import Caller
from app.domain.invoice import Address, compute_totals
from app.errors import InvoiceInvalid
from app.formats.cii import write_cii
from app.formats.conformance import Syntax, check, unit_codes
from app.formats.from_canonical import to_en16931
from app.formats.model import EN16931Invoice
from app.formats.ubl import write_ubl
from app.invoices.channels import Channel
from app.invoices.documents import MissingAddress, addresses_for, buyer_name_for
from app.invoices.parsing import to_draft
from app.invoices.service import SupplierProfile, ValidatedInvoice, check_invoice
from app.settings import ApiSettings
from tests.builders import STATE_SIRET, SUPPLIER_SIRET, SUPPLIER_VAT_NUMBER

REGISTERED = Address("12 rue des Fournisseurs", None, "69002", "Lyon", "FR")
DIRECTORY_ADDRESS = Address(None, None, "75012", "PARIS", "FR")
DIRECTORY_NAME = "SERVICES DE L'ETAT POUR LA FACTURATION ELECTRONIQUE"
CALLER = Caller(
    client_id="cli_corpus",
    name="corpus",
    scopes=frozenset({Scope.INVOICES_WRITE}),
    supplier_sirets=frozenset({SUPPLIER_SIRET}),
)
API = ApiSettings(online_validation=False)
ISSUED = date(2026, 11, 20)
RATES = ("0", "2.1", "5.5", "10", "20")
REASONS = (
    "Exoneration de TVA, article 261-4-4 a du CGI",
    "VATEX-EU-132-1I Exonération: enseignement scolaire ou universitaire",
    "TVA non applicable, art. 293 B du CGI",
)
IBANS = ("FR7630006000011234567890189", "DE89370400440532013000", "IT60X0542811101000000123456")
FOREIGN = (
    {"line1": "Rue de la Loi 16", "postal_code": "1000", "city": "Bruxelles", "country_code": "BE"},
    {"line1": "Musterstraße 5", "line2": "Hinterhaus", "city": "Berlin", "country_code": "DE"},
    {"city": "Belfast", "postal_code": "BT1 5GS", "country_code": "XI"},
    {"country_code": "MC"},
)


@dataclass(frozen=True, slots=True)
class Structure:
    """What the supplier's registered structure holds."""

    vat_number: str | None = SUPPLIER_VAT_NUMBER
    address: Address | None = REGISTERED
    vat_regime: str | None = None
    vat_exemption_reason: str | None = None


def submit(
    payload: dict[str, Any], structure: Structure = Structure(), channel: Channel = Channel.CII
) -> ValidatedInvoice:
    """Submission's validation (the real one: parsing, defaults, every rule), no database."""

    async def suppliers(siret: str) -> SupplierProfile | None:
        return SupplierProfile(
            vat_regime=structure.vat_regime,
            vat_exemption_reason=structure.vat_exemption_reason,
            vat_number=structure.vat_number,
            address=structure.address,
        )

    return asyncio.run(
        check_invoice(payload, API, CALLER, suppliers=suppliers, delivery_format=channel)
    )


def document(accepted: ValidatedInvoice, structure: Structure = Structure()) -> EN16931Invoice:
    """The EN 16931 model of an accepted invoice, resolved the way delivery resolves it."""
    invoice = accepted.invoice
    draft = to_draft(invoice)
    parties = addresses_for(
        draft.supplier.address, structure.address, draft.buyer.address, DIRECTORY_ADDRESS
    )
    return to_en16931(
        draft,
        seller_address=parties.seller,
        buyer_address=parties.buyer,
        buyer_name=buyer_name_for(draft.buyer.name, DIRECTORY_NAME),
        payment_terms=invoice.payment.terms if invoice.payment else None,
    )


def write_both(model: EN16931Invoice) -> None:
    write_cii(model)
    write_ubl(model)


def fatal_findings(model: EN16931Invoice) -> dict[str, tuple[str, ...]]:
    """Fatal rule ids per syntax; empty when both documents conform."""
    reports = {
        "cii": check(write_cii(model), Syntax.CII),
        "ubl": check(write_ubl(model), Syntax.UBL),
    }
    return {syntax: report.fatal_rule_ids for syntax, report in reports.items() if not report.ok}


# --- what an ERP sends --------------------------------------------------------------------

# Printable text of every script (accents, CJK, emoji), tabs and line breaks; never the control
# characters no XML can carry (submission refuses those, tested below).
TEXT_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from("\t\n")


def rare(draw: st.DrawFn, one_in: int) -> bool:
    """True about once in `one_in` draws (on a middle value: Hypothesis leans to the bounds)."""
    return draw(st.integers(0, one_in - 1)) == one_in // 2


def text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(TEXT_CHARS, min_size=1, max_size=max_size).filter(lambda s: s.strip() != "")


def decimal_text(low: str, high: str, places: int) -> st.SearchStrategy[str]:
    return st.decimals(
        Decimal(low), Decimal(high), places=places, allow_nan=False, allow_infinity=False
    ).map(lambda d: f"{d:f}")


@st.composite
def lines(draw: st.DrawFn, *, zero_rated: bool) -> list[dict[str, Any]]:
    count = draw(st.one_of(st.integers(1, 6), st.integers(7, 40)))
    drawn = []
    for _ in range(count):
        line: dict[str, Any] = {
            "description": draw(text(1000) if rare(draw, 10) else text(40)),
            "quantity": draw(
                st.one_of(
                    decimal_text("0.001", "50", 3),
                    st.sampled_from(["1", "3", "0.333", "12.5", "2.375", "10000"]),
                    # JSON numbers in exponent form, as `decode_json_body` reads them.
                    st.sampled_from([Decimal("1E+2"), Decimal("2.50E+1"), Decimal("5E-1")]),
                    decimal_text("0.000001", "99999", 6),
                )
            ),
            "unit_price": draw(
                st.one_of(
                    decimal_text("0.01", "2000", 2),
                    st.sampled_from(["0", "0.333", "0.01", "13.333", "0.005", "99999.99"]),
                    st.sampled_from([Decimal("1E+1"), Decimal("1.5E+3"), Decimal("2.5E-1")]),
                    decimal_text("0.000001", "100", 6),
                )
            ),
            "vat_rate": "0" if zero_rated else draw(st.sampled_from(RATES)),
        }
        if draw(st.booleans()):
            line["unit_code"] = draw(st.sampled_from(sorted(unit_codes())))
        if rare(draw, 5):
            line["reference"] = draw(text(64))
        drawn.append(line)
    # One line worth something, so that most invoices have a positive total (the rest may be 0).
    drawn[0]["quantity"] = draw(st.sampled_from(["1", "2", "3", "12.5", "0.75"]))
    drawn[0]["unit_price"] = draw(decimal_text("1", "5000", 2))
    # A discount line now and then (negative quantity), small enough to keep the total positive.
    if rare(draw, 5):
        drawn.append(
            {
                "description": "Remise commerciale",
                "quantity": "-1",
                "unit_price": draw(decimal_text("0.01", "5", 2)),
                "vat_rate": drawn[0]["vat_rate"],
            }
        )
    return drawn


@st.composite
def invoices(draw: st.DrawFn) -> dict[str, Any]:
    regime = draw(
        st.sampled_from([None, "TVA_SUR_DEBIT", "TVA_SUR_ENCAISSEMENT", "EXONERATION", "SANS_TVA"])
    )
    exempt = regime in ("EXONERATION", "SANS_TVA")
    is_credit_note = rare(draw, 4)
    issued = ISSUED - timedelta(days=draw(st.integers(0, 700)))
    payload: dict[str, Any] = {
        "invoice_number": draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_./-]{0,19}", fullmatch=True)),
        "type": "credit_note" if is_credit_note else "invoice",
        "issue_date": issued.isoformat(),
        "currency": "EUR",
        "supplier": {"siret": SUPPLIER_SIRET},
        "buyer": {"siret": STATE_SIRET, "service_code": "SFACETAT"},
        "legal_commitment": draw(st.from_regex(r"[0-9]{10}", fullmatch=True)),
        "lines": draw(lines(zero_rated=exempt)),
    }
    if draw(st.booleans()):
        payload["due_date"] = (issued + timedelta(days=draw(st.integers(0, 90)))).isoformat()
    if regime is not None:
        payload["vat_regime"] = regime
    if exempt or any(line["vat_rate"] == "0" for line in payload["lines"]):
        payload["vat_exemption_reason"] = draw(st.sampled_from(REASONS) | text(255))
    if is_credit_note:
        payload["preceding_invoice"] = draw(text(64))
    elif draw(st.booleans()):
        payload["payment"] = draw(payments())
    if not rare(draw, 10):
        payload["supplier"]["name"] = draw(text(200))
    if draw(st.booleans()):
        payload["supplier"]["vat_number"] = "FR 96 412 345 670"
    if rare(draw, 4):
        payload["supplier"]["address"] = draw(st.sampled_from(FOREIGN) | odd_addresses())
    if draw(st.booleans()):
        payload["buyer"]["name"] = draw(text(200))
    if rare(draw, 4):
        payload["buyer"]["address"] = draw(
            st.just({"line1": "139 rue de Bercy", "country_code": "FR"}) | odd_addresses()
        )
    if rare(draw, 12):
        # A character no XML can carry, somewhere an ERP could put one.
        bad = draw(st.sampled_from(["\x01", "\x08", "\x0b", "\x1b", "\ufffe", "\uffff"]))
        target = draw(st.sampled_from(["note", "description", "name"]))
        if target == "note":
            payload["note"] = f"Livraison{bad}partielle"
        elif target == "description":
            payload["lines"][0]["description"] += bad
        else:
            payload["buyer"]["name"] = f"Etat{bad}"
    if draw(st.booleans()):
        payload["note"] = draw(text(2000))
    if draw(st.booleans()):
        payload["contract_reference"] = draw(text(50))
    framework = draw(
        st.sampled_from(
            [
                "A1_FACTURE_FOURNISSEUR",
                "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE",
                "A9_FACTURE_SOUSTRAITANT",
            ]
        )
    )
    payload["framework"] = framework
    if framework == "A9_FACTURE_SOUSTRAITANT":
        payload["validator_siret"] = "52345678810009"
    return payload


def odd_addresses() -> st.SearchStrategy[dict[str, Any]]:
    """Any two letters as a country (most are not ISO 3166), any postal code."""
    return st.fixed_dictionaries(
        {"country_code": st.from_regex(r"[A-Z]{2}", fullmatch=True)},
        optional={
            "city": text(100),
            "postal_code": st.from_regex(r"[0-9A-Z]{4,6}", fullmatch=True),
        },
    )


@st.composite
def structures(draw: st.DrawFn) -> Structure:
    """What the operator registered: sometimes no VAT number, no address, an odd country."""
    odd = draw(st.integers(0, 11))
    address = {
        4: None,
        5: Address(city="Lyon"),
        6: Address(country_code=draw(st.from_regex(r"[A-Z]{2}", fullmatch=True))),
    }.get(odd, REGISTERED)
    regime, reason = ("SANS_TVA", REASONS[2]) if rare(draw, 8) else (None, None)
    return Structure(
        vat_number=None if rare(draw, 8) else SUPPLIER_VAT_NUMBER,
        address=address,
        vat_regime=regime,
        vat_exemption_reason=reason,
    )


@st.composite
def payments(draw: st.DrawFn) -> dict[str, Any]:
    payment: dict[str, Any] = {
        "means": draw(
            st.sampled_from(
                [None, "VIREMENT", "PRELEVEMENT", "CHEQUE", "ESPECE", "AUTRE", "REPORT"]
            )
        )
    }
    if draw(st.booleans()):
        payment["iban"] = draw(st.sampled_from(IBANS))
    if draw(st.booleans()):
        payment["bic"] = "AGRIFRPPXXX"
    if draw(st.booleans()):
        payment["terms"] = draw(text(500))
    return payment


MANY_LINES: dict[str, Any] = {
    "invoice_number": "F2026-MANY",
    "issue_date": "2026-11-20",
    "due_date": "2026-12-20",
    "supplier": {"siret": SUPPLIER_SIRET, "name": "ACME"},
    "buyer": {"siret": STATE_SIRET, "service_code": "SFACETAT"},
    "legal_commitment": "1234567890",
    "lines": [
        {
            "description": f"Article {i:03d} - fourniture de bureau",
            "quantity": str(1 + i % 7),
            "unit_price": f"{(i * 37) % 1000 + 0.99:.2f}",
            "vat_rate": RATES[i % 5],
            "unit_code": ("C62", "HUR", "KGM", "XPP")[i % 4],
        }
        for i in range(1, 201)
    ],
    "vat_exemption_reason": REASONS[0],
}
ROUNDING: dict[str, Any] = {
    "invoice_number": "F2026-ROUND",
    "issue_date": "2026-11-20",
    "supplier": {"siret": SUPPLIER_SIRET, "name": "ACME"},
    "buyer": {"siret": STATE_SIRET, "service_code": "SFACETAT"},
    "legal_commitment": "1234567890",
    "lines": [
        {"description": "Tiers", "quantity": "3", "unit_price": "0.333", "vat_rate": "20"},
        {"description": "Tiers", "quantity": "0.333", "unit_price": "3", "vat_rate": "5.5"},
        {"description": "Demi-cent", "quantity": "1", "unit_price": "0.005", "vat_rate": "10"},
        {"description": "Exonere", "quantity": "7", "unit_price": "0.015", "vat_rate": "0"},
    ],
    "vat_exemption_reason": REASONS[1],
}
# A discount bigger than the exempt line it follows: the E breakdown's base is negative, so its
# tax, 0 % of it, rounds to a negative zero. Written "-0.00", SaxonC's BR-E-09 refuses it (the
# untyped "-0.00" = 0 is false there). Found by the property only when the process had imported
# other modules: Hypothesis draws on constants of every local module loaded, so the corpus a
# fixed seed generates depends on what else the process imported.
NEGATIVE_EXEMPT_BASE: dict[str, Any] = {
    "invoice_number": "F2026-NEGZERO",
    "issue_date": "2026-11-20",
    "supplier": {"siret": SUPPLIER_SIRET, "name": "ACME"},
    "buyer": {"siret": STATE_SIRET, "service_code": "SFACETAT"},
    "legal_commitment": "1234567890",
    "lines": [
        {"description": "Formation", "quantity": "1", "unit_price": "1.00", "vat_rate": "0"},
        {"description": "Papier", "quantity": "1", "unit_price": "100", "vat_rate": "20"},
        {"description": "Remise", "quantity": "-1", "unit_price": "2.64", "vat_rate": "0"},
    ],
    "vat_exemption_reason": REASONS[0],
}


CORPUS_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # the same corpus on every run: CI failures reproduce
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def unconformant(payload: dict[str, Any], structure: Structure, channel: Channel) -> str | None:
    """Why an invoice submission accepts on `channel` makes no conformant document; None if it
    does or submission refuses it."""
    try:
        accepted = submit(payload, structure, channel)
    except InvoiceInvalid:
        return None
    try:
        found = fatal_findings(document(accepted, structure))
    except (ValueError, MissingAddress) as error:
        return f"no document can be written: {error}"
    return f"the schematron refuses it: {found}" if found else None


@CORPUS_SETTINGS
@given(payload=invoices(), structure=structures())
@example(payload=ROUNDING, structure=Structure())
@example(payload=NEGATIVE_EXEMPT_BASE, structure=Structure())
@example(payload=MANY_LINES, structure=Structure())
def test_every_invoice_submission_accepts_makes_conformant_cii_and_ubl(
    payload: dict[str, Any], structure: Structure
) -> None:
    try:
        accepted = submit(payload, structure)
    except InvoiceInvalid:
        assume(False)  # not data the gateway accepts: nothing to prove
        raise
    assert accepted.channel is Channel.CII
    assert unconformant(payload, structure, Channel.CII) is None


def test_the_corpus_finds_what_the_native_rules_would_miss_without_them() -> None:
    # Saisie skips the EN 16931 rules: the same generator must find a gap there, or the
    # property above would prove nothing.
    gap = find(
        st.tuples(invoices(), structures()),
        lambda drawn: unconformant(drawn[0], drawn[1], Channel.SAISIE) is not None,
        # The first gap found is enough: no shrinking (each try runs the schematron).
        settings=settings(CORPUS_SETTINGS, max_examples=200, phases=[Phase.generate]),
    )
    payload, structure = gap
    assert unconformant(payload, structure, Channel.SAISIE) is not None


# --- the converse: what the schematron refuses, submission refuses ------------------------

VALID: dict[str, Any] = {
    "invoice_number": "F2026-000900",
    "issue_date": "2026-11-20",
    "due_date": "2026-12-20",
    "supplier": {"siret": SUPPLIER_SIRET, "name": "ACME FOURNITURES SAS"},
    "buyer": {"siret": STATE_SIRET, "service_code": "SFACETAT", "name": "Etat"},
    "legal_commitment": "1234567890",
    "lines": [{"description": "Papier", "quantity": "2", "unit_price": "100", "vat_rate": "20"}],
}
EXEMPT_LINES = [{"description": "Formation", "quantity": "1", "unit_price": "900", "vat_rate": "0"}]
NO_VAT = Structure(vat_number=None)


def with_(**changes: Any) -> dict[str, Any]:
    return {**VALID, **changes}


def test_the_valid_reference_invoice_conforms() -> None:
    assert fatal_findings(document(submit(VALID))) == {}


@pytest.mark.parametrize(
    ("payload", "structure", "rules", "field"),
    [
        pytest.param(
            VALID, NO_VAT, {"BR-S-02"}, "supplier.vat_number", id="standard_rate_without_vat_id"
        ),
        pytest.param(
            with_(lines=EXEMPT_LINES, vat_exemption_reason=REASONS[0]),
            NO_VAT,
            {"BR-E-02"},
            "supplier.vat_number",
            id="exempt_without_seller_vat_id",
        ),
        pytest.param(
            with_(buyer={**VALID["buyer"], "address": {"country_code": "QQ"}}),
            Structure(),
            {"BR-CL-14", "XSD"},
            "buyer.address.country_code",
            id="country_not_in_iso_3166",
        ),
        pytest.param(
            VALID,
            Structure(address=Address(city="Lyon", country_code="UK")),
            {"BR-CL-14", "XSD"},
            "supplier.address",
            id="registered_country_not_in_iso_3166",
        ),
    ],
)
def test_what_the_schematron_refuses_is_refused_at_submission(
    payload: dict[str, Any], structure: Structure, rules: set[str], field: str
) -> None:
    # Saisie takes it as before; its EN 16931 document would be refused.
    taken = submit(payload, structure, channel=Channel.SAISIE)
    found = {rule for ids in fatal_findings(document(taken, structure)).values() for rule in ids}
    assert rules & found, found
    with pytest.raises(InvoiceInvalid) as refused:
        submit(payload, structure)
    assert field in {violation.field for violation in refused.value.errors}


@pytest.mark.parametrize(
    ("payload", "structure", "field"),
    [
        pytest.param(
            with_(note="Livraison\x02 partielle"), Structure(), "note", id="control_character"
        ),
        pytest.param(
            with_(lines=[{**VALID["lines"][0], "description": "Papier \ufffe A4"}]),
            Structure(),
            "lines.0.description",
            id="non_character",
        ),
        pytest.param(
            with_(supplier={"siret": SUPPLIER_SIRET}), Structure(), "supplier.name", id="no_name"
        ),
        pytest.param(VALID, Structure(address=None), "supplier.address", id="no_seller_address"),
    ],
)
def test_what_no_document_could_be_written_for_is_refused_at_submission(
    payload: dict[str, Any], structure: Structure, field: str
) -> None:
    taken = submit(payload, structure, channel=Channel.SAISIE)
    with pytest.raises((ValueError, MissingAddress)):
        write_both(document(taken, structure))
    with pytest.raises(InvoiceInvalid) as refused:
        submit(payload, structure)
    assert field in {violation.field for violation in refused.value.errors}


def test_the_rounding_example_adds_up_the_domains_way() -> None:
    accepted = submit(ROUNDING)
    assert accepted.invoice.totals is not None
    expected = compute_totals(to_draft(accepted.invoice).lines)
    model = document(accepted)
    assert (model.totals.tax_exclusive, model.totals.tax_total, model.totals.payable) == (
        expected.net,
        expected.vat,
        expected.gross,
    )


def test_an_exempt_breakdown_with_a_negative_base_conforms_and_writes_no_negative_zero() -> None:
    model = document(submit(NEGATIVE_EXEMPT_BASE))
    assert [(s.category.value, s.taxable_amount) for s in model.vat_breakdown] == [
        ("E", Decimal("-1.64")),
        ("S", Decimal("100.00")),
    ]

    assert fatal_findings(model) == {}
    for written in (write_cii(model), write_ubl(model)):
        assert re.findall(rb">-0(?:\.0*)?<", written) == []
