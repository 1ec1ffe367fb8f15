"""WEBHOOK_ALLOW_PRIVATE_TARGETS, the development mode: loopback receivers may be registered."""

from __future__ import annotations

import httpx
import pytest

from app.settings import Settings, WebhookSettings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhook": WebhookSettings(allow_private_targets=True)})


async def test_private_targets_are_accepted_when_the_setting_allows_them(
    events_http: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    for url in ("http://127.0.0.1:8090/hook", "http://localhost:9000/hook", "http://[::1]/h"):
        response = await events_http.post("/v1/webhooks", json={"url": url}, headers=operator)
        assert response.status_code == 201, response.text


async def test_credentials_stay_refused_when_private_targets_are_allowed(
    events_http: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    response = await events_http.post(
        "/v1/webhooks", json={"url": "http://user:pw@127.0.0.1/hook"}, headers=operator
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "WEBHOOK_URL_NOT_ALLOWED"
