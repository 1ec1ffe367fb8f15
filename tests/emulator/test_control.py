"""The control API: directory edits, password changes, reset, stats, the route table."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from app.emulator.faults import ENDPOINTS, OAUTH_ENDPOINT, endpoint_of
from app.emulator.main import create_emulator_app

from .builders import ACME, STATE_SIRET, login, saisie_invoice
from .conftest import MakeClient, make_config

SOUMETTRE = "/cpro/factures/v1/soumettre"
ACTIVES = "/cpro/transverses/v1/recuperer/structures/actives/fournisseur"
MY_SUPPLIER: dict[str, Any] = {
    "identifier": "80295478000028",
    "designation": "MA SOCIETE SAS",
    "role": "supplier",
    "technical_account": {"login": "TECH_1_80295478000028@cpro.fr", "password": "first"},
}


def _cpro_account(login_name: str, password: str) -> str:
    return base64.b64encode(f"{login_name}:{password}".encode()).decode()


async def _headers_for(client: httpx.AsyncClient, password: str) -> dict[str, str]:
    headers = await login(client)
    return headers | {"cpro-account": _cpro_account("TECH_1_80295478000028@cpro.fr", password)}


async def test_a_users_own_supplier_can_be_added_and_invoice(client: httpx.AsyncClient) -> None:
    added = await client.post("/_emulator/structures", json=MY_SUPPLIER)
    headers = await _headers_for(client, "first")

    actives = await client.post(ACTIVES, json={}, headers=headers)
    submitted = await client.post(
        SOUMETTRE, json=saisie_invoice(supplier_id=added.json()["id"]), headers=headers
    )

    assert added.status_code == 200
    assert added.json()["technical_account"]["login"] == "TECH_1_80295478000028@cpro.fr"
    assert "password" not in added.json()["technical_account"]
    assert actives.json()["listeStructures"][0]["identifiant"] == "80295478000028"
    assert submitted.json()["codeRetour"] == 0
    assert submitted.json()["identifiantStructure"] == "80295478000028"


async def test_a_password_change_locks_the_old_password_out(client: httpx.AsyncClient) -> None:
    await client.post("/_emulator/structures", json=MY_SUPPLIER)

    changed = await client.post(
        "/_emulator/accounts/TECH_1_80295478000028@cpro.fr/password", json={"password": "second"}
    )
    old = await client.post(ACTIVES, json={}, headers=await _headers_for(client, "first"))
    new = await client.post(ACTIVES, json={}, headers=await _headers_for(client, "second"))

    assert changed.json() == {"login": "TECH_1_80295478000028@cpro.fr", "structures": 1}
    assert old.status_code == 403
    assert new.status_code == 200


async def test_reposting_a_structure_updates_it_and_keeps_its_id(client: httpx.AsyncClient) -> None:
    first = await client.post("/_emulator/structures", json=MY_SUPPLIER)
    updated = MY_SUPPLIER | {
        "designation": "MA SOCIETE SA",
        "technical_account": {"login": "TECH_1_80295478000028@cpro.fr", "password": "third"},
    }

    second = await client.post("/_emulator/structures", json=updated)
    response = await client.post(ACTIVES, json={}, headers=await _headers_for(client, "third"))

    assert second.json()["id"] == first.json()["id"]
    assert response.json()["listeStructures"][0]["designationStructure"] == "MA SOCIETE SA"


async def test_an_account_password_can_be_expired(client: httpx.AsyncClient) -> None:
    await client.post(
        "/_emulator/accounts/TECH_1_41234567010000@cpro.fr/password",
        json={"password": ACME.password, "password_expires_at": "2025-03-01T00:00:00Z"},
    )

    response = await client.post(ACTIVES, json={}, headers=await login(client))

    assert response.status_code == 403


async def test_an_unknown_account_password_change_gets_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/_emulator/accounts/nobody/password", json={"password": "x"})

    assert response.status_code == 404


@pytest.mark.parametrize(
    "structure",
    [
        {"identifier": "12345678901234", "designation": "LUHN KO"},
        {
            "identifier": "12345678200069",
            "designation": "X",
            "role": "recipient",
            "technical_account": {"login": "a", "password": "b"},
        },
        {"identifier": "12345678200069"},
        {"identifier": "12345678200069", "designation": "X", "flag": True},
    ],
    ids=["bad SIRET", "account on a recipient", "no designation", "unknown key"],
)
async def test_an_invalid_structure_gets_422(
    client: httpx.AsyncClient, structure: dict[str, Any]
) -> None:
    response = await client.post("/_emulator/structures", json=structure)

    assert response.status_code == 422


async def test_a_siret_failing_luhn_is_accepted_when_the_check_is_off(
    make_client: MakeClient,
) -> None:
    client = await make_client(check_luhn=False)

    response = await client.post(
        "/_emulator/structures", json={"identifier": "98125730567914", "designation": "MATELAS"}
    )

    assert response.status_code == 200


async def test_the_directory_lists_the_seed(client: httpx.AsyncClient) -> None:
    listing = (await client.get("/_emulator/structures")).json()

    sirets = [entry["identifier"] for entry in listing]
    assert sirets == [
        STATE_SIRET,
        "12345678200028",
        "12345678200036",
        "12345678200044",
        "12345678200051",
        "41234567010000",
        "52345678810009",
    ]
    assert all("password" not in (entry["technical_account"] or {}) for entry in listing)


async def test_reset_forgets_everything_but_tokens(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    await client.post(SOUMETTRE, json=saisie_invoice("F-1"), headers=acme)
    await client.post(SOUMETTRE, json=saisie_invoice("F-1"), headers=acme)
    await client.post("/_emulator/structures", json=MY_SUPPLIER)
    await client.put(
        "/_emulator/faults",
        json={"rules": [{"endpoint": "structures/v1/consulter", "kind": "http_500"}]},
    )

    reset = await client.post("/_emulator/reset")

    truth = (await client.get("/_emulator/invoices")).json()
    assert reset.status_code == 200
    assert truth["total"] == 0
    assert truth["duplicates_refused"] == 0
    assert (await client.get("/_emulator/faults")).json()["rules"] == []
    assert (await client.get("/_emulator/stats")).json()["calls"] == {}
    assert len((await client.get("/_emulator/structures")).json()) == 7
    again = await client.post(SOUMETTRE, json=saisie_invoice("F-1"), headers=acme)
    assert again.json()["codeRetour"] == 0


async def test_stats_count_calls_and_refusals(make_client: MakeClient) -> None:
    client = await make_client(saisie_numbering="sender")
    acme = await login(client)
    await client.post(SOUMETTRE, json=saisie_invoice("F-1"), headers=acme)
    await client.post(SOUMETTRE, json=saisie_invoice("F-1"), headers=acme)

    stats = (await client.get("/_emulator/stats")).json()

    assert stats["calls"] == {"oauth/token": 1, "factures/v1/soumettre": 2}
    assert stats["refusals"] == {"20300": 1}
    assert stats["faults_fired"] == {}


async def test_an_unknown_invoice_gets_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/_emulator/invoices/1")).status_code == 404


def test_the_fault_endpoint_names_match_the_routes() -> None:
    app = create_emulator_app(make_config())

    routed = {endpoint_of(path) for path in app.openapi()["paths"]} - {None}

    assert routed == ENDPOINTS
    assert OAUTH_ENDPOINT in routed


def test_nothing_is_served_outside_the_chorus_and_control_paths() -> None:
    paths = create_emulator_app(make_config()).openapi()["paths"]

    assert all(p.startswith(("/cpro/", "/_emulator/", "/api/oauth/")) for p in paths)
