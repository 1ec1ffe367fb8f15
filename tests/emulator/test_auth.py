"""PISTE's gates: the token endpoint, then bearer token (401) and cpro-account (403)."""

from __future__ import annotations

import base64

import httpx
import pytest

from app.emulator.clock import Clock

from .builders import ACME, CLIENT_FORM, get_token, login
from .conftest import MakeClient

ACTIVES = "/cpro/transverses/v1/recuperer/structures/actives/fournisseur"


async def test_the_token_endpoint_issues_a_bearer_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/oauth/token", data=CLIENT_FORM)

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "openid"
    assert len(body["access_token"]) > 20


async def test_the_token_lifetime_is_a_setting(make_client: MakeClient) -> None:
    client = await make_client(token_expires_in=60)

    response = await client.post("/api/oauth/token", data=CLIENT_FORM)

    assert response.json()["expires_in"] == 60


async def test_scope_is_optional(client: httpx.AsyncClient) -> None:
    form = {key: value for key, value in CLIENT_FORM.items() if key != "scope"}

    assert (await client.post("/api/oauth/token", data=form)).status_code == 200


async def test_client_credentials_may_come_as_http_basic(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("gateway-dev", "gateway-dev-secret"),
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("client_id", "client_secret"),
    [("gateway-dev", "wrong"), ("someone", "gateway-dev-secret"), ("", "")],
)
async def test_wrong_client_credentials_get_401_invalid_client(
    client: httpx.AsyncClient, client_id: str, client_secret: str
) -> None:
    form = CLIENT_FORM | {"client_id": client_id, "client_secret": client_secret}

    response = await client.post("/api/oauth/token", data=form)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.json()["error_description"]


@pytest.mark.parametrize(
    ("form", "error"),
    [
        (CLIENT_FORM | {"grant_type": "password"}, "unsupported_grant_type"),
        ({"client_id": "gateway-dev", "client_secret": "gateway-dev-secret"}, "invalid_request"),
    ],
)
async def test_a_grant_other_than_client_credentials_gets_400(
    client: httpx.AsyncClient, form: dict[str, str], error: str
) -> None:
    response = await client.post("/api/oauth/token", data=form)

    assert response.status_code == 400
    assert response.json()["error"] == error


async def test_configured_client_credentials_are_the_accepted_ones(
    make_client: MakeClient,
) -> None:
    client = await make_client(client_id="erp-42", client_secret="s3cret")

    ok = await client.post(
        "/api/oauth/token",
        data=CLIENT_FORM | {"client_id": "erp-42", "client_secret": "s3cret"},
    )
    default = await client.post("/api/oauth/token", data=CLIENT_FORM)

    assert ok.status_code == 200
    assert default.status_code == 401


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-token", "Basic Z2F0ZXdheS1kZXY6eA==", "Bearer "],
)
async def test_a_call_without_a_valid_token_gets_401_with_an_empty_body(
    client: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {"cpro-account": ACME.cpro_account}
    if authorization is not None:
        headers["Authorization"] = authorization

    response = await client.post(ACTIVES, json={}, headers=headers)

    assert response.status_code == 401
    assert response.content == b""


async def test_an_expired_token_gets_401(client: httpx.AsyncClient, clock: Clock) -> None:
    headers = await login(client)
    clock.advance(3599)
    assert (await client.post(ACTIVES, json={}, headers=headers)).status_code == 200

    clock.advance(1)
    response = await client.post(ACTIVES, json={}, headers=headers)

    assert response.status_code == 401
    assert response.content == b""


def _account(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cpro_account",
    [
        None,
        "",
        "not base64 !",
        _account("no-colon"),
        _account(f"{ACME.login}:wrong-password"),
        _account(f"nobody@cpro.fr:{ACME.password}"),
    ],
)
async def test_a_missing_or_wrong_cpro_account_gets_403_with_an_empty_body(
    client: httpx.AsyncClient, cpro_account: str | None
) -> None:
    headers = {"Authorization": f"Bearer {await get_token(client)}"}
    if cpro_account is not None:
        headers["cpro-account"] = cpro_account

    response = await client.post(ACTIVES, json={}, headers=headers)

    assert response.status_code == 403
    assert response.content == b""


async def test_the_token_is_checked_before_the_account(client: httpx.AsyncClient) -> None:
    response = await client.post(ACTIVES, json={}, headers={"Authorization": "Bearer nope"})

    assert response.status_code == 401


async def test_an_expired_technical_password_gets_403(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    clock.advance(366 * 24 * 3600)
    headers = await login(client)

    response = await client.post(ACTIVES, json={}, headers=headers)

    assert response.status_code == 403


async def test_the_account_sees_its_own_supplier_structures(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    response = await client.post(ACTIVES, json={}, headers=acme)

    assert response.status_code == 200
    assert response.json() == {
        "codeRetour": 0,
        "libelle": "TRA_MSG_00.000",
        "listeStructures": [
            {
                "idStructureCPP": ACME.structure_id,
                "identifiant": ACME.siret,
                "designationStructure": "ACME FOURNITURES SAS",
            }
        ],
    }


async def test_health_check_is_a_get_behind_the_same_gates(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    ok = await client.get("/cpro/transverses/v1/health-check", headers=acme)
    no_token = await client.get("/cpro/transverses/v1/health-check")

    assert ok.status_code == 200
    assert ok.json() == {"codeRetour": 0, "libelle": "TRA_MSG_00.000"}
    assert no_token.status_code == 401


async def test_health_check_can_be_configured_to_skip_the_account(
    make_client: MakeClient,
) -> None:
    client = await make_client(health_check_requires_account=False)
    headers = {"Authorization": f"Bearer {await get_token(client)}"}

    response = await client.get("/cpro/transverses/v1/health-check", headers=headers)

    assert response.status_code == 200
