"""Webhook subscriptions: operators only, the secret shown once, deletion disables."""

from __future__ import annotations

import base64

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from app.auth.scopes import Scope
from app.crypto import PasswordBox
from app.events.models import WebhookSubscription
from tests.conftest import TEST_SECRETS_KEY, KeyFactory

URL = "https://accounting.example/hooks/chorus"


async def test_an_operator_subscribes_and_sees_the_secret_only_once(
    events_http: httpx.AsyncClient,
    operator: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    created = await events_http.post(
        "/v1/webhooks",
        json={"url": URL, "event_types": ["invoice.paid"], "description": "cash collection"},
        headers=operator,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["secret"]
    assert body["id"].startswith("whk_")
    assert (body["url"], body["event_types"], body["disabled_at"]) == (URL, ["invoice.paid"], None)
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    Webhook(secret)  # receivers' libraries accept it as is

    listed = await events_http.get("/v1/webhooks", headers=operator)
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()] == [body["id"]]
    assert "secret" not in listed.json()[0]
    assert secret not in listed.text

    async with sessionmaker() as session:
        stored = await session.scalar(select(WebhookSubscription))
    assert stored is not None
    assert secret not in stored.secret_ciphertext
    box = PasswordBox([TEST_SECRETS_KEY.get_secret_value()])
    assert box.open(stored.secret_ciphertext).get_secret_value() == secret


async def test_event_types_default_to_all_and_each_subscription_has_its_own_secret(
    events_http: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    first = (await events_http.post("/v1/webhooks", json={"url": URL}, headers=operator)).json()
    second = (await events_http.post("/v1/webhooks", json={"url": URL}, headers=operator)).json()
    assert first["event_types"] == []
    assert first["secret"] != second["secret"]


async def test_deleting_disables_the_subscription_and_is_idempotent(
    events_http: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    created = (await events_http.post("/v1/webhooks", json={"url": URL}, headers=operator)).json()
    deleted = await events_http.delete(f"/v1/webhooks/{created['id']}", headers=operator)
    assert deleted.status_code == 204
    assert deleted.content == b""
    [listed] = (await events_http.get("/v1/webhooks", headers=operator)).json()
    assert listed["disabled_at"] is not None
    again = await events_http.delete(f"/v1/webhooks/{created['id']}", headers=operator)
    assert again.status_code == 204
    [relisted] = (await events_http.get("/v1/webhooks", headers=operator)).json()
    assert relisted["disabled_at"] == listed["disabled_at"]


async def test_deleting_an_unknown_subscription_is_404(
    events_http: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    response = await events_http.delete("/v1/webhooks/whk_unknown", headers=operator)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://accounting.example/hooks"}, "url"),
        ({"url": "not a url"}, "url"),
        ({}, "url"),
        ({"url": URL, "event_types": ["invoice.deleted"]}, "event_types.0"),
        ({"url": URL, "description": "x" * 201}, "description"),
        ({"url": URL, "secret": "whsec_mine"}, "secret"),
    ],
)
async def test_invalid_subscriptions_are_422_naming_the_field(
    events_http: httpx.AsyncClient, operator: dict[str, str], body: dict[str, object], field: str
) -> None:
    response = await events_http.post("/v1/webhooks", json=body, headers=operator)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_subscriptions_need_the_operator_scope(
    events_http: httpx.AsyncClient, make_key: KeyFactory
) -> None:
    reader = await make_key(scopes=(Scope.INVOICES_READ, Scope.INVOICES_WRITE))
    for method, path in [
        ("POST", "/v1/webhooks"),
        ("GET", "/v1/webhooks"),
        ("DELETE", "/v1/webhooks/whk_x"),
    ]:
        body = {"url": URL} if method == "POST" else None
        forbidden = await events_http.request(method, path, json=body, headers=reader)
        assert forbidden.status_code == 403, (method, path)
        anonymous = await events_http.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8090/_emulator/reset",
        "http://127.8.9.10/hook",
        "http://2130706433/hook",  # 127.0.0.1 as one number
        "http://0x7f000001/hook",
        "http://0177.0.0.1/hook",
        "http://127.1/hook",
        "http://[::1]/hook",
        "http://0.0.0.0/hook",
        "http://0/hook",
        "http://[::]/hook",
        "http://10.1.2.3/hook",
        "http://172.16.0.1/hook",
        "http://172.31.255.254/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/hook",  # carrier-grade NAT
        "http://[fc00::1]/hook",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped
        "http://[::ffff:169.254.169.254]/hook",
        "http://[64:ff9b::a00:1]/hook",  # NAT64 of 10.0.0.1
        "http://[2002:c0a8:101::1]/hook",  # 6to4 of 192.168.1.1
        "http://localhost:8000/hook",
        "http://LOCALHOST./hook",
        "http://api.localhost/hook",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://224.0.0.1/hook",
    ],
)
async def test_webhooks_to_internal_addresses_are_refused_at_registration(
    events_http: httpx.AsyncClient, operator: dict[str, str], url: str
) -> None:
    response = await events_http.post("/v1/webhooks", json={"url": url}, headers=operator)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "WEBHOOK_URL_NOT_ALLOWED"
    assert [error["field"] for error in problem["errors"]] == ["url"]
    assert (await events_http.get("/v1/webhooks", headers=operator)).json() == []


@pytest.mark.parametrize(
    "url", ["https://user:s3cr3t@accounting.example/hook", "https://s3cr3t@accounting.example/h"]
)
async def test_credentials_in_webhook_urls_are_refused(
    events_http: httpx.AsyncClient, operator: dict[str, str], url: str
) -> None:
    response = await events_http.post("/v1/webhooks", json={"url": url}, headers=operator)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "WEBHOOK_URL_NOT_ALLOWED"
    assert "credentials" in response.json()["detail"]
    assert "s3cr3t" not in response.text


@pytest.mark.parametrize(
    "url",
    ["https://accounting.example:8443/hooks", "http://93.184.215.14/h", "https://[2606:4700::1]/h"],
)
async def test_public_webhook_urls_are_accepted(
    events_http: httpx.AsyncClient, operator: dict[str, str], url: str
) -> None:
    response = await events_http.post("/v1/webhooks", json={"url": url}, headers=operator)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "body",
    [
        {"url": URL, "description": "cash\u0000collection"},
        {"url": "https://accounting.example/ho\u0000oks"},
        {"url": "\u0000https://accounting.example/hooks"},
    ],
)
async def test_nul_bytes_in_webhook_fields_are_422(
    events_http: httpx.AsyncClient, operator: dict[str, str], body: dict[str, str]
) -> None:
    response = await events_http.post("/v1/webhooks", json=body, headers=operator)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_nul_byte_in_a_webhook_id_is_refused_not_a_500(
    events_http: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    response = await events_http.delete("/v1/webhooks/whk_%00", headers=operator)
    assert response.status_code in (404, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
