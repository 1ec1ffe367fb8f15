"""API keys, scopes and supplier scoping."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.models import ApiClient
from app.auth.scopes import Scope
from tests.builders import OTHER_SUPPLIER_SIRET, SUPPLIER_SIRET, invoice_payload
from tests.conftest import KeyFactory

pytestmark = pytest.mark.usefixtures("registered_suppliers")


async def test_no_key_is_401_with_a_bearer_challenge(http: httpx.AsyncClient) -> None:
    for method, path in (
        ("POST", "/v1/invoices"),
        ("GET", "/v1/invoices"),
        ("GET", "/v1/invoices/x"),
    ):
        response = await http.request(method, path, json=invoice_payload())
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.headers["content-type"] == "application/problem+json"


async def test_an_unknown_key_is_401(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/invoices", headers={"Authorization": "Bearer cpg_nope"})
    assert response.status_code == 401


async def test_a_basic_scheme_is_401(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/invoices", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 401


async def test_a_revoked_key_is_401(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    from app.db.base import utc_now

    async with sessionmaker() as session, session.begin():
        client = await session.scalar(select(ApiClient))
        assert client is not None
        client.revoked_at = utc_now()
    assert (await http.get("/v1/invoices", headers=auth)).status_code == 401


async def test_keys_are_stored_only_as_hashes(
    auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    key = auth["Authorization"].removeprefix("Bearer ")
    async with sessionmaker() as session:
        client = await session.scalar(select(ApiClient))
    assert client is not None
    stored = " ".join(str(getattr(client, c.key)) for c in ApiClient.__table__.columns)
    assert key not in stored
    assert key[12:] not in stored
    assert len(client.key_hash) == 64


async def test_a_reader_cannot_post_and_a_writer_cannot_read(
    http: httpx.AsyncClient, make_key: KeyFactory
) -> None:
    reader = await make_key(scopes=(Scope.INVOICES_READ,))
    writer = await make_key(scopes=(Scope.INVOICES_WRITE,))
    assert (
        await http.post("/v1/invoices", json=invoice_payload(), headers=reader)
    ).status_code == 403
    assert (await http.get("/v1/invoices", headers=writer)).status_code == 403
    assert (await http.get("/v1/invoices", headers=reader)).status_code == 200


async def test_another_clients_invoice_is_404_and_absent_from_lists(
    http: httpx.AsyncClient, make_key: KeyFactory
) -> None:
    mine = await make_key(suppliers=(SUPPLIER_SIRET,))
    theirs = await make_key(suppliers=(OTHER_SUPPLIER_SIRET,))
    created = await http.post(
        "/v1/invoices",
        json=invoice_payload(supplier={"siret": OTHER_SUPPLIER_SIRET, "name": "BETA SERVICES"}),
        headers=theirs,
    )
    invoice_id = created.json()["id"]
    assert (await http.get(f"/v1/invoices/{invoice_id}", headers=theirs)).status_code == 200
    hidden = await http.get(f"/v1/invoices/{invoice_id}", headers=mine)
    assert hidden.status_code == 404
    assert (await http.get("/v1/invoices", headers=mine)).json()["items"] == []
    filtered = await http.get(f"/v1/invoices?supplier_siret={OTHER_SUPPLIER_SIRET}", headers=mine)
    assert filtered.json()["items"] == []


async def test_clients_sharing_a_supplier_see_its_invoices(
    http: httpx.AsyncClient, make_key: KeyFactory
) -> None:
    erp = await make_key(suppliers=(SUPPLIER_SIRET,))
    accounting = await make_key(scopes=(Scope.INVOICES_READ,), suppliers=(SUPPLIER_SIRET,))
    created = (await http.post("/v1/invoices", json=invoice_payload(), headers=erp)).json()
    assert (await http.get(f"/v1/invoices/{created['id']}", headers=accounting)).status_code == 200


async def test_operators_see_every_invoice(http: httpx.AsyncClient, make_key: KeyFactory) -> None:
    erp = await make_key()
    operator = await make_key(scopes=(Scope.OPERATOR,), suppliers=())
    created = (await http.post("/v1/invoices", json=invoice_payload(), headers=erp)).json()
    assert (await http.get(f"/v1/invoices/{created['id']}", headers=operator)).status_code == 200
