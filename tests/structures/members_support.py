"""Helpers for the structure-member tests: clients made through the operator API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

from tests.builders import OTHER_SUPPLIER_SIRET, invoice_payload


@dataclass(frozen=True)
class Client:
    """An API client made by the operator: its id and Authorization header."""

    id: str
    auth: dict[str, str]


async def new_client(
    http: httpx.AsyncClient,
    operator: dict[str, str],
    *scopes: str,
    suppliers: tuple[str, ...] = (),
) -> Client:
    """A client created with `POST /v1/clients` (no supplier unless given)."""
    created = await http.post(
        "/v1/clients",
        json={
            "name": f"client-{uuid.uuid4().hex[:8]}",
            "scopes": list(scopes or ("invoices:write", "invoices:read")),
            "supplier_sirets": list(suppliers),
        },
        headers=operator,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    return Client(body["id"], {"Authorization": f"Bearer {body['key']}"})


def other_supplier_invoice() -> dict[str, object]:
    """A valid invoice of the second demo supplier."""
    return invoice_payload(supplier={"siret": OTHER_SUPPLIER_SIRET, "name": "BETA SERVICES"})


def error_codes(response: httpx.Response) -> list[str]:
    """The `errors[].code` of a problem answer."""
    return [error["code"] for error in response.json().get("errors", [])]
