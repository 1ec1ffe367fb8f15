"""Operator endpoints for API clients: create, list, revoke, rotate, expiry; keys stay hashed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.keys import hash_key
from app.settings import Settings
from tests.builders import SUPPLIER_SIRET
from tests.conftest import KeyFactory
from tests.support.gateway import gateway_client


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _new_client(name: str = "sage", **overrides: object) -> dict[str, object]:
    return {
        "name": name,
        "scopes": ["invoices:read"],
        "supplier_sirets": ["412 345 670 10000"],
        **overrides,
    }


async def test_an_operator_creates_a_client_whose_key_is_shown_once_and_works(
    http: httpx.AsyncClient,
    operator: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    created = await http.post("/v1/clients", json=_new_client(), headers=operator)
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    body = created.json()
    key = body["key"]
    assert key.startswith(body["key_prefix"])
    assert body["supplier_sirets"] == [SUPPLIER_SIRET]
    assert body["status"] == "active"
    assert body["expires_at"] is None
    assert (await http.get("/v1/invoices", headers=_bearer(key))).status_code == 200
    listed = await http.get("/v1/clients", headers=operator)
    assert listed.status_code == 200
    sage = [c for c in listed.json() if c["name"] == "sage"]
    assert len(sage) == 1
    assert "key" not in sage[0]
    assert key not in listed.text
    assert hash_key(key) not in listed.text
    async with sessionmaker() as session:
        stored = await session.scalar(text("SELECT key_hash FROM api_client WHERE name = 'sage'"))
    assert stored == hash_key(key)


async def test_client_endpoints_are_for_operators_only(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    assert (await http.get("/v1/clients")).status_code == 401
    assert (await http.get("/v1/clients", headers=auth)).status_code == 403
    assert (await http.post("/v1/clients", json=_new_client(), headers=auth)).status_code == 403


async def test_invalid_clients_are_422_with_the_field(
    http: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    cases = {
        "supplier_sirets": _new_client(supplier_sirets=["41234567010001"]),
        "scopes": _new_client(scopes=["admin"]),
        "name": _new_client(name="bad\u0000name"),
        "expires_at": _new_client(expires_at="2020-01-01T00:00:00Z"),
    }
    for field, payload in cases.items():
        response = await http.post("/v1/clients", json=payload, headers=operator)
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert field in {error["field"].split(".")[0] for error in response.json()["errors"]}
    naive = await http.post(
        "/v1/clients", json=_new_client(expires_at="2099-01-01T00:00:00"), headers=operator
    )
    assert naive.status_code == 422


async def test_a_second_client_with_the_same_name_is_409(
    http: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    assert (await http.post("/v1/clients", json=_new_client(), headers=operator)).status_code == 201
    again = await http.post("/v1/clients", json=_new_client(), headers=operator)
    assert again.status_code == 409
    assert again.json()["code"] == "CLIENT_EXISTS"


async def test_concurrent_creates_with_one_name_give_one_201_and_409s(
    http: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    answers = await asyncio.gather(
        *(http.post("/v1/clients", json=_new_client("racer"), headers=operator) for _ in range(20))
    )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * 19, [a.text for a in answers if a.status_code >= 500]


async def test_a_revoked_key_gets_401_at_once_in_the_process_that_revoked_it(
    http: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    client = (await http.post("/v1/clients", json=_new_client(), headers=operator)).json()
    key = _bearer(client["key"])
    assert (await http.get("/v1/invoices", headers=key)).status_code == 200  # now cached
    revoked = await http.delete(f"/v1/clients/{client['id']}", headers=operator)
    assert revoked.status_code == 204
    refused = await http.get("/v1/invoices", headers=key)
    assert refused.status_code == 401
    assert refused.json()["code"] == "UNAUTHENTICATED"
    assert (await http.delete(f"/v1/clients/{client['id']}", headers=operator)).status_code == 204
    listed = (await http.get("/v1/clients", headers=operator)).json()
    assert [c["status"] for c in listed if c["id"] == client["id"]] == ["revoked"]
    rotate = await http.post(f"/v1/clients/{client['id']}/rotate", headers=operator)
    assert rotate.status_code == 409
    assert rotate.json()["code"] == "CLIENT_REVOKED"


async def test_a_key_revoked_elsewhere_stops_within_the_auth_cache_time(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], make_key: KeyFactory
) -> None:
    ttl = 0.5
    key = await make_key()
    async with gateway_client(settings, auth_cache_seconds=ttl) as api:
        assert (await api.get("/v1/invoices", headers=key)).status_code == 200
        async with sessionmaker() as session, session.begin():
            # Another process (`gateway clients revoke`, another API worker) revokes it.
            await session.execute(
                text("UPDATE api_client SET revoked_at = :now"), {"now": datetime.now(UTC)}
            )
        await asyncio.sleep(ttl + 0.1)
        assert (await api.get("/v1/invoices", headers=key)).status_code == 401


async def test_rotation_shows_a_new_key_once_and_the_old_one_stops(
    http: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    client = (await http.post("/v1/clients", json=_new_client(), headers=operator)).json()
    old = _bearer(client["key"])
    assert (await http.get("/v1/invoices", headers=old)).status_code == 200
    rotated = await http.post(f"/v1/clients/{client['id']}/rotate", headers=operator)
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    body = rotated.json()
    assert body["key"] != client["key"]
    assert body["rotated_at"] is not None
    assert (await http.get("/v1/invoices", headers=old)).status_code == 401
    assert (await http.get("/v1/invoices", headers=_bearer(body["key"]))).status_code == 200


async def test_unknown_or_malformed_client_ids(
    http: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    unknown = "cli_" + "0" * 26
    assert (await http.delete(f"/v1/clients/{unknown}", headers=operator)).status_code == 404
    assert (await http.post(f"/v1/clients/{unknown}/rotate", headers=operator)).status_code == 404
    assert (await http.delete("/v1/clients/nope%00", headers=operator)).status_code == 422


async def test_an_expired_key_gets_401_even_when_cached(
    http: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    # Long enough for the first call to land before expiry on a loaded machine.
    soon = datetime.now(UTC) + timedelta(seconds=3)
    client = (
        await http.post(
            "/v1/clients", json=_new_client(expires_at=soon.isoformat()), headers=operator
        )
    ).json()
    assert client["expires_at"] is not None
    key = _bearer(client["key"])
    assert (await http.get("/v1/invoices", headers=key)).status_code == 200  # cached for 5 s
    await asyncio.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.1)
    assert (await http.get("/v1/invoices", headers=key)).status_code == 401
    listed = (await http.get("/v1/clients", headers=operator)).json()
    assert [c["status"] for c in listed if c["id"] == client["id"]] == ["expired"]
    rotate = await http.post(f"/v1/clients/{client['id']}/rotate", headers=operator)
    assert rotate.json()["code"] == "CLIENT_EXPIRED"
