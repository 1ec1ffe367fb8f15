"""A principal of structure A finds nothing of structure B anywhere (404), never operator rights;
operators still reach everything. The routes are taken from the app (every `/v1/` route), not
from a list."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from app.main import create_app
from app.settings import Settings
from tests.builders import OTHER_SUPPLIER_SIRET, SUPPLIER_SIRET, invoice_payload
from tests.conftest import KeyFactory
from tests.structures.members_support import Client, new_client, other_supplier_invoice

pytestmark = pytest.mark.usefixtures("registered_suppliers")

A, B = SUPPLIER_SIRET, OTHER_SUPPLIER_SIRET
# Path parameters that name something a supplier structure owns. `/v1/buyers/{siret}` names a
# buyer in Chorus's public directory, which belongs to no supplier.
OWNED = {"siret", "invoice_id", "client_id", "position"}
_PARAM = re.compile(r"{(\w+)}")


def _api_routes(settings: Settings) -> dict[tuple[str, str], APIRoute]:
    """Every route of the bearer-key API (`/v1/…`), by (method, path). The console signs in
    with a session cookie and answers with pages, so it is not probed here."""
    found = {}
    for context in iter_route_contexts(create_app(settings).routes):
        route = context.route
        if isinstance(route, APIRoute) and context.path.startswith("/v1/"):
            for method in sorted(context.methods or ()):
                found[(method, context.path)] = route
    return found


def _owned_routes(settings: Settings) -> list[tuple[str, str]]:
    """(method, path) of every API route whose path names a structure's resource."""
    return [
        (method, path)
        for method, path in _api_routes(settings)
        if not path.startswith("/v1/buyers/")
        and _PARAM.findall(path)
        and set(_PARAM.findall(path)) <= OWNED
    ]


def _body(route: APIRoute, method: str) -> dict[str, Any]:
    """A plausible body: multipart for routes that only take parts, else an empty JSON object."""
    if method in {"GET", "DELETE"}:
        return {}
    extra = route.openapi_extra or {}
    content = extra.get("requestBody", {}).get("content", {})
    if "multipart/form-data" in content and "application/json" not in content:
        return {"files": {"attachment": ("note.txt", b"hello", "text/plain")}}
    return {"json": {}}


async def _principal_of(http: httpx.AsyncClient, operator: dict[str, str], siret: str) -> Client:
    client = await new_client(http, operator, "invoices:write", "invoices:read")
    attached = await http.put(
        f"/v1/structures/{siret}/members/{client.id}", json={}, headers=operator
    )
    assert attached.json()["role"] == "principal"
    return client


async def test_a_principal_of_a_finds_nothing_of_b_on_every_route(
    http: httpx.AsyncClient, operator: dict[str, str], settings: Settings
) -> None:
    principal_a = await _principal_of(http, operator, A)
    principal_b = await _principal_of(http, operator, B)
    member_b = await http.post(
        f"/v1/structures/{B}/members", json={"name": "erp"}, headers=principal_b.auth
    )
    invoice_b = await http.post(
        "/v1/invoices", json=other_supplier_invoice(), headers=principal_b.auth
    )
    assert invoice_b.status_code == 201, invoice_b.text
    values = {
        "siret": B,
        "invoice_id": invoice_b.json()["id"],
        "client_id": member_b.json()["client_id"],
        "position": "1",
    }
    routes = _api_routes(settings)
    probed = _owned_routes(settings)
    assert len(probed) >= 20  # the walk found the surface (structures, members, invoices...)
    before = (await http.get(f"/v1/structures/{B}/members", headers=operator)).json()
    answers = {}
    for method, path in probed:
        url = _PARAM.sub(lambda m: values[m.group(1)], path)
        response = await http.request(
            method, url, headers=principal_a.auth, **_body(routes[(method, path)], method)
        )
        answers[f"{method} {path}"] = response.status_code
    assert {probe: status for probe, status in answers.items() if status != 404} == {}
    # Nothing of B changed under the probes (DELETE, revoke, approve, principal...).
    assert (await http.get(f"/v1/structures/{B}/members", headers=operator)).json() == before
    assert (await http.get("/v1/invoices", headers=principal_a.auth)).json()["items"] == []


async def test_operators_still_reach_every_structure_route(
    http: httpx.AsyncClient, operator: dict[str, str], settings: Settings
) -> None:
    principal_b = await _principal_of(http, operator, B)
    member_b = await http.post(
        f"/v1/structures/{B}/members", json={"name": "erp"}, headers=principal_b.auth
    )
    invoice_b = await http.post(
        "/v1/invoices", json=other_supplier_invoice(), headers=principal_b.auth
    )
    values = {
        "siret": B,
        "invoice_id": invoice_b.json()["id"],
        "client_id": member_b.json()["client_id"],
    }
    reads = [
        (method, path)
        for method, path in _owned_routes(settings)
        if method == "GET"
        and set(_PARAM.findall(path)) <= set(values)
        and not path.endswith(("/pdf", "/document"))  # this JSON invoice has neither yet
    ]
    assert reads
    for _, path in reads:
        url = _PARAM.sub(lambda m: values[m.group(1)], path)
        response = await http.get(url, headers=operator)
        assert response.status_code == 200, (path, response.text)
    rotated = await http.post(
        f"/v1/structures/{B}/members/{values['client_id']}/rotate", headers=operator
    )
    assert rotated.status_code == 200
    patched = await http.patch(f"/v1/structures/{B}", json={"vat_number": None}, headers=operator)
    assert patched.status_code == 200


async def test_a_principal_retries_only_its_own_failed_invoices(
    http: httpx.AsyncClient, operator: dict[str, str], make_key: KeyFactory
) -> None:
    principal_a = await _principal_of(http, operator, A)
    erp_a = await make_key()
    invoice = await http.post("/v1/invoices", json=invoice_payload(), headers=erp_a)
    invoice_id = invoice.json()["id"]
    # Not failed: the principal passes the access check and meets the state rule.
    retried = await http.post(f"/v1/invoices/{invoice_id}/retry", headers=principal_a.auth)
    assert (retried.status_code, retried.json()["code"]) == (409, "INVOICE_NOT_FAILED")
    # A plain client of the same supplier is not allowed; a stranger finds nothing.
    assert (await http.post(f"/v1/invoices/{invoice_id}/retry", headers=erp_a)).status_code == 403
    stranger = await make_key(suppliers=(B,))
    assert (
        await http.post(f"/v1/invoices/{invoice_id}/retry", headers=stranger)
    ).status_code == 404
