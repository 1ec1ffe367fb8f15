"""Webhook subscriptions: operators only, the secret shown once, deletion disables."""

from __future__ import annotations

import base64

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from app.auth.scopes import Scope
from app.events.models import WebhookSubscription
from app.structures.crypto import PasswordBox
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
