"""Parties' postal addresses, line unit codes and the contract reference through the API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.builders import STATE_SIRET, SUPPLIER_SIRET, invoice_payload
from tests.invoices.conftest import Refused

pytestmark = pytest.mark.usefixtures("registered_suppliers")

ENDPOINTS = ("/v1/invoices", "/v1/invoices/validate")
SUPPLIER_ADDRESS = {
    "line1": "1 rue de la Paix",
    "line2": "Bâtiment B",
    "postal_code": "75002",
    "city": "Paris",
    "country_code": "FR",
}
BUYER_ADDRESS = {
    "line1": "139 rue de Bercy",
    "line2": None,
    "postal_code": "75012",
    "city": "Paris",
    "country_code": "FR",
}


def with_fields(**overrides: Any) -> dict[str, Any]:
    payload = invoice_payload(
        supplier={"siret": SUPPLIER_SIRET, "name": "ACME", "address": SUPPLIER_ADDRESS},
        buyer={
            "siret": STATE_SIRET,
            "service_code": "SFACETAT",
            "address": {**BUYER_ADDRESS, "line2": "", "country_code": " fr "},
        },
        contract_reference="MARCHE-2026-042",
        lines=[
            {
                "description": "Conseil",
                "quantity": "2",
                "unit_price": "100.00",
                "vat_rate": "20",
                "unit_code": "hur",
            },
            {"description": "Papier", "quantity": "1", "unit_price": "10", "vat_rate": "20"},
        ],
        **overrides,
    )
    payload.pop("totals")
    return payload


async def test_addresses_unit_codes_and_contract_reference_are_stored_and_answered(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await http.post("/v1/invoices", json=with_fields(), headers=auth)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["supplier"]["address"] == SUPPLIER_ADDRESS
    assert body["buyer"]["address"] == BUYER_ADDRESS
    assert body["contract_reference"] == "MARCHE-2026-042"
    assert [line["unit_code"] for line in body["lines"]] == ["HUR", "C62"]
    fetched = await http.get(response.headers["location"], headers=auth)
    assert fetched.json() == body


async def test_an_invoice_without_them_has_no_address_and_lines_in_c62(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await http.post("/v1/invoices", json=invoice_payload(), headers=auth)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["supplier"]["address"] is None
    assert body["buyer"]["address"] is None
    assert body["contract_reference"] is None
    assert [line["unit_code"] for line in body["lines"]] == ["C62"]


async def test_validate_answers_the_normalized_fields(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await http.post("/v1/invoices/validate", json=with_fields(), headers=auth)
    assert response.status_code == 200, response.text
    invoice = response.json()["invoice"]
    assert invoice["buyer"]["address"]["country_code"] == "FR"
    assert invoice["buyer"]["address"]["line2"] is None
    assert [line["unit_code"] for line in invoice["lines"]] == ["HUR", "C62"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        (
            {"supplier": {"siret": SUPPLIER_SIRET, "address": {"city": "Paris"}}},
            "supplier.address.country_code",
            "FIELD_REQUIRED",
        ),
        (
            {
                "buyer": {
                    "siret": STATE_SIRET,
                    "service_code": "SFACETAT",
                    "address": {"country_code": "FRANCE"},
                }
            },
            "buyer.address.country_code",
            "FIELD_INVALID",
        ),
        (
            {
                "supplier": {
                    "siret": SUPPLIER_SIRET,
                    "address": {"postal_code": "750", "country_code": "FR"},
                }
            },
            "supplier.address.postal_code",
            "FIELD_INVALID",
        ),
        (
            {"supplier": {"siret": SUPPLIER_SIRET, "address": {"city": "Pa\u0000ris"}}},
            "supplier.address.city",
            "FIELD_INVALID",
        ),
        ({"contract_reference": "M" * 51}, "contract_reference", "FIELD_INVALID"),
        (
            {
                "lines": [
                    {
                        "description": "x",
                        "quantity": "1",
                        "unit_price": "1",
                        "vat_rate": "20",
                        "unit_code": "PIECE",
                    }
                ]
            },
            "lines.0.unit_code",
            "FIELD_INVALID",
        ),
    ],
)
async def test_malformed_fields_are_422_naming_the_field(
    refused: Refused,
    endpoint: str,
    overrides: dict[str, Any],
    field: str,
    code: str,
) -> None:
    payload = invoice_payload(**overrides)
    payload.pop("totals")
    response = await refused(endpoint, payload)
    errors = {e["field"]: e["code"] for e in response.json()["errors"]}
    assert errors.get(field) == code, errors
