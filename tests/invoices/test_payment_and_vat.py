"""Payment means, VAT regime and invoicing framework: what Chorus's `soumettre` needs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.auth.scopes import Scope
from tests.builders import invoice_payload
from tests.conftest import KeyFactory
from tests.invoices.conftest import Refused
from tests.invoices.uploads import post_with_pdf

pytestmark = pytest.mark.usefixtures("registered_suppliers")

ENDPOINTS = ("/v1/invoices", "/v1/invoices/validate")
REASON = "TVA non applicable, art. 293 B du CGI"
EXEMPT_LINES = [{"description": "Formation", "quantity": "1", "unit_price": "500", "vat_rate": "0"}]


def errors_of(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {e["field"]: e["code"] for e in response.json()["errors"]}


def exempt_invoice(**overrides: Any) -> dict[str, Any]:
    payload = invoice_payload(lines=EXEMPT_LINES, **overrides)
    payload.pop("totals")
    return payload


async def test_an_invoice_is_paid_by_transfer_under_vat_on_debits_by_default(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await http.post("/v1/invoices", json=invoice_payload(), headers=auth)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["payment"] == {"means": "VIREMENT", "iban": None, "bic": None, "terms": None}
    assert body["vat_regime"] == "TVA_SUR_DEBIT"
    assert body["vat_exemption_reason"] is None
    assert body["validator_siret"] is None


async def test_payment_details_are_normalized_and_kept(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    payment = {
        "means": " prelevement ",
        "iban": "fr76 3000 6000 0112 3456 7890 189",
        "bic": "bnpa frpp",
        "terms": "30 jours fin de mois",
    }
    response = await http.post(
        "/v1/invoices",
        json=invoice_payload(payment=payment, vat_regime="tva_sur_encaissement"),
        headers=auth,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["payment"] == {
        "means": "PRELEVEMENT",
        "iban": "FR7630006000011234567890189",
        "bic": "BNPAFRPP",
        "terms": "30 jours fin de mois",
    }
    assert body["vat_regime"] == "TVA_SUR_ENCAISSEMENT"
    fetched = await http.get(response.headers["location"], headers=auth)
    assert fetched.json()["payment"] == body["payment"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"payment": {"means": "BITCOIN"}}, "payment.means", "FIELD_INVALID"),
        (
            {"payment": {"iban": "FR76 3000 6000 0112 3456 7890 188"}},
            "payment.iban",
            "FIELD_INVALID",
        ),
        ({"payment": {"bic": "BNP"}}, "payment.bic", "FIELD_INVALID"),
        ({"payment": {"means": "VIREMENT", "swift": "x"}}, "payment.swift", "FIELD_INVALID"),
        (
            {
                "type": "credit_note",
                "preceding_invoice": "F2026-000001",
                "payment": {"means": "VIREMENT"},
            },
            "payment",
            "FIELD_INVALID",
        ),
        ({"vat_regime": "TVA_AU_PIF"}, "vat_regime", "FIELD_INVALID"),
        ({"validator_siret": "12345678200051"}, "validator_siret", "FIELD_INVALID"),
        (
            {"vat_regime": "EXONERATION"},
            "vat_exemption_reason",
            "VAT_EXEMPTION_REASON_REQUIRED",
        ),
        ({"framework": "A3_MEMOIRE_JUSTICE"}, "framework", "FIELD_INVALID"),
        ({"framework": "A9_FACTURE_SOUSTRAITANT"}, "validator_siret", "FIELD_REQUIRED"),
        (
            {"framework": "A12_FACTURE_COTRAITANT", "validator_siret": "12345678200052"},
            "validator_siret",
            "SIRET_INVALID",
        ),
    ],
)
async def test_what_soumettre_would_refuse_is_a_field_problem(
    refused: Refused,
    endpoint: str,
    overrides: dict[str, Any],
    field: str,
    code: str,
) -> None:
    response = await refused(endpoint, invoice_payload(**overrides))
    assert errors_of(response)[field] == code
    [message] = [e["message"] for e in response.json()["errors"] if e["field"] == field]
    # Known fields, checked for what they mean (not refused as unknown ones).
    assert "Unknown field" not in message or field == "payment.swift"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_a_zero_rated_line_needs_an_exemption_reason(
    http: httpx.AsyncClient, auth: dict[str, str], endpoint: str
) -> None:
    refused = await http.post(endpoint, json=exempt_invoice(), headers=auth)
    assert errors_of(refused) == {"vat_exemption_reason": "VAT_EXEMPTION_REASON_REQUIRED"}
    accepted = await http.post(
        endpoint,
        json=exempt_invoice(vat_regime="EXONERATION", vat_exemption_reason=REASON),
        headers=auth,
    )
    assert accepted.status_code in (200, 201), accepted.text


async def test_a_pdf_invoice_is_held_to_the_same_frameworks(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    payload = invoice_payload(framework="A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR")
    payload.pop("lines")
    response = await post_with_pdf(http, auth, payload)
    assert errors_of(response) == {"framework": "FIELD_INVALID"}


async def test_a_cotraitant_invoice_names_its_validator(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    payload = invoice_payload(
        framework="a12_facture_cotraitant", validator_siret="123 456 782 00051"
    )
    response = await http.post("/v1/invoices", json=payload, headers=auth)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["framework"], body["validator_siret"]) == (
        "A12_FACTURE_COTRAITANT",
        "12345678200051",
    )


async def test_a_credit_note_has_no_payment_block(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    payload = invoice_payload(type="credit_note", preceding_invoice="F2026-000001")
    response = await http.post("/v1/invoices", json=payload, headers=auth)
    assert response.status_code == 201, response.text
    assert response.json()["payment"] is None


async def test_a_structure_gives_its_vat_regime_to_invoices_that_state_none(
    http: httpx.AsyncClient, make_key: KeyFactory
) -> None:
    franchise = "73282932000074"
    operator = await make_key(scopes=(Scope.OPERATOR,))
    account = {"siret": franchise, "login": "TECH_1_73282932000074@cpro.fr", "password": "x"}
    unknown = await http.post(
        "/v1/structures", json={**account, "vat_regime": "TVA_AU_PIF"}, headers=operator
    )
    assert unknown.status_code == 422, unknown.text
    registered = await http.post(
        "/v1/structures",
        json={
            "siret": franchise,
            "login": "TECH_1_73282932000074@cpro.fr",
            "password": "secret",
            "vat_regime": "SANS_TVA",
            "vat_exemption_reason": REASON,
            "address": {"city": "Nantes", "postal_code": "44000", "country_code": "FR"},
        },
        headers=operator,
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["vat_regime"] == "SANS_TVA"
    assert registered.json()["vat_exemption_reason"] == REASON
    erp = await make_key(suppliers=(franchise,))
    franchisee = {"siret": franchise, "name": "Atelier Martin"}
    payload = exempt_invoice(supplier=franchisee)
    validated = await http.post("/v1/invoices/validate", json=payload, headers=erp)
    assert validated.status_code == 200, validated.text
    assert validated.json()["invoice"]["vat_regime"] == "SANS_TVA"
    created = await http.post("/v1/invoices", json=payload, headers=erp)
    assert created.status_code == 201, created.text
    assert (created.json()["vat_regime"], created.json()["vat_exemption_reason"]) == (
        "SANS_TVA",
        REASON,
    )
    # The invoice's own regime wins over the structure's.
    with_vat = invoice_payload(
        supplier={**franchisee, "vat_number": "FR44732829320"}, vat_regime="TVA_SUR_DEBIT"
    )
    stated = await http.post("/v1/invoices", json=with_vat, headers=erp)
    assert stated.status_code == 201, stated.text
    assert stated.json()["vat_regime"] == "TVA_SUR_DEBIT"
    # Under SANS_TVA a taxed line is a contradiction.
    taxed = invoice_payload(supplier=franchisee)
    assert errors_of(await http.post("/v1/invoices", json=taxed, headers=erp)) == {
        "lines.0.vat_rate": "FIELD_INVALID",
        "totals.vat": "FIELD_INVALID",
    }
