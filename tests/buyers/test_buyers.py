"""Buyer lookups and online validation, asked of the emulator over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.auth.scopes import Scope
from app.settings import ApiSettings, Settings
from tests.builders import STATE_SIRET, SUPPLIER_SIRET, invoice_payload
from tests.conftest import KeyFactory, emulator_chorus_settings
from tests.support.gateway import gateway_client, register_demo_suppliers

QUALIFICATION_BUYERS = [STATE_SIRET, "12345678200036", "12345678200051", "63456789510003"]


@pytest.fixture
def online_settings(settings: Settings, served_emulator: str) -> Settings:
    return settings.model_copy(
        update={
            "api": ApiSettings(allowed_buyer_sirets=QUALIFICATION_BUYERS),
            "chorus": emulator_chorus_settings(served_emulator),
        }
    )


@pytest.fixture
async def online(
    online_settings: Settings, engine: AsyncEngine, emulator: httpx.AsyncClient
) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway_client(online_settings) as client:
        yield client


@pytest.fixture
async def acme_account(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        await register_demo_suppliers(session, sirets=(SUPPLIER_SIRET,))


@pytest.mark.usefixtures("acme_account")
async def test_an_erp_reads_the_states_active_services_and_flags(
    online: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await online.get("/v1/buyers/110 002 011 000 44/services", headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["siret"] == STATE_SIRET
    assert body["ej_required"] is True
    assert body["service_required"] is True
    codes = {service["code"] for service in body["services"]}
    assert "SFACETAT" in codes
    assert "SFACANCIEN" not in codes  # inactive
    assert "FACTURES_PUBLIQUES" not in codes


@pytest.mark.usefixtures("acme_account")
async def test_the_directory_is_cached(
    online: httpx.AsyncClient, auth: dict[str, str], emulator: httpx.AsyncClient
) -> None:
    await online.get(f"/v1/buyers/{STATE_SIRET}/services", headers=auth)
    before = (await emulator.get("/_emulator/stats")).json()
    await online.get(f"/v1/buyers/{STATE_SIRET}/services", headers=auth)
    after = (await emulator.get("/_emulator/stats")).json()
    assert after["calls"] == before["calls"]


@pytest.mark.usefixtures("acme_account")
async def test_an_unknown_buyer_is_404_and_a_bad_siret_422(
    online: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    assert (await online.get("/v1/buyers/63456789510003/services", headers=auth)).status_code == 404
    assert (await online.get("/v1/buyers/123/services", headers=auth)).status_code == 422


async def test_without_a_technical_account_the_lookup_is_503(
    online: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await online.get(f"/v1/buyers/{STATE_SIRET}/services", headers=auth)
    assert response.status_code == 503
    assert response.json()["code"] == "CHORUS_UNAVAILABLE"


@pytest.mark.usefixtures("acme_account")
async def test_online_validation_refuses_an_inactive_service(
    online: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    payload = invoice_payload(buyer={"siret": STATE_SIRET, "service_code": "SFACANCIEN"})
    response = await online.post("/v1/invoices", json=payload, headers=auth)
    assert response.status_code == 422
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("buyer.service_code", "SE_INVALID")
    ]


@pytest.mark.usefixtures("acme_account")
async def test_online_validation_applies_the_buyers_flags(
    online: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    ej_mandatory = invoice_payload(buyer={"siret": "12345678200036"}, legal_commitment=None)
    response = await online.post("/v1/invoices", json=ej_mandatory, headers=auth)
    assert [e["code"] for e in response.json()["errors"]] == ["EJ_REQUIRED"]
    no_flags = invoice_payload(buyer={"siret": "12345678200051"}, legal_commitment=None)
    accepted = await online.post("/v1/invoices", json=no_flags, headers=auth)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["validation"] == {"mode": "online"}


@pytest.mark.usefixtures("acme_account")
async def test_a_service_that_demands_an_ej_is_honoured(
    online: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await online.post(
        "/v1/invoices/validate",
        json=invoice_payload(buyer={"siret": STATE_SIRET, "service_code": "COMPTABILITE"}),
        headers=auth,
    )
    assert response.status_code == 200
    assert response.json()["validation"] == {"mode": "online"}


@pytest.mark.usefixtures("acme_account")
async def test_a_buyer_missing_from_chorus_is_refused_online(
    online: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    payload = invoice_payload(buyer={"siret": "63456789510003"}, legal_commitment=None)
    response = await online.post("/v1/invoices", json=payload, headers=auth)
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("buyer.siret", "BUYER_NOT_ALLOWED")
    ]


@pytest.mark.usefixtures("acme_account")
async def test_when_chorus_is_down_validation_is_offline_and_says_so(
    online: httpx.AsyncClient, auth: dict[str, str], emulator: httpx.AsyncClient
) -> None:
    await emulator.put("/_emulator/faults", json={"rules": [{"endpoint": "*", "kind": "http_503"}]})
    response = await online.post("/v1/invoices", json=invoice_payload(), headers=auth)
    assert response.status_code == 201
    assert response.json()["validation"] == {"mode": "offline"}
    await emulator.delete("/_emulator/faults")


async def test_the_lookup_needs_write_scope(
    online: httpx.AsyncClient, make_key: KeyFactory
) -> None:
    reader = await make_key(scopes=(Scope.INVOICES_READ,))
    response = await online.get(f"/v1/buyers/{STATE_SIRET}/services", headers=reader)
    assert response.status_code == 403


@pytest.mark.usefixtures("acme_account")
async def test_online_validation_reuses_the_cached_directory(
    online: httpx.AsyncClient, auth: dict[str, str], emulator: httpx.AsyncClient
) -> None:
    first = await online.post("/v1/invoices", json=invoice_payload(), headers=auth)
    assert first.json()["validation"] == {"mode": "online"}
    before = (await emulator.get("/_emulator/stats")).json()["calls"]
    second = await online.post("/v1/invoices", json=invoice_payload(), headers=auth)
    assert second.json()["validation"] == {"mode": "online"}
    assert (await emulator.get("/_emulator/stats")).json()["calls"] == before
