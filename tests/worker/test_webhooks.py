"""Events reach a subscribed endpoint through the worker, signed, in order."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from app.auth.scopes import Scope
from app.outbox.worker import Worker
from tests.conftest import KeyFactory
from tests.support.servers import serve_app
from tests.worker.conftest import Post, drain

pytestmark = pytest.mark.usefixtures("acme")


async def test_status_events_are_pushed_signed_to_subscribers(
    post: Post,
    worker: Worker,
    gateway: httpx.AsyncClient,
    make_key: KeyFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    received: list[tuple[bytes, dict[str, str]]] = []
    receiver = FastAPI()

    @receiver.post("/hook")
    async def hook(request: Request) -> dict[str, str]:
        received.append((await request.body(), dict(request.headers)))
        return {}

    operator = await make_key(scopes=(Scope.OPERATOR,), suppliers=())
    with serve_app(receiver) as url:
        created = await gateway.post(
            "/v1/webhooks",
            json={"url": f"{url}/hook", "event_types": ["invoice.queued", "invoice.submitted"]},
            headers=operator,
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        invoice_id = await post()
        await drain(worker, sessionmaker, invoice_id, lambda i: i.status == "submitted")
        deadline = time.monotonic() + 10
        while len(received) < 2 and time.monotonic() < deadline:
            await worker.run_once()
    types: list[Any] = []
    for body, headers in received:
        payload = Webhook(secret).verify(body, headers)
        types.append(payload["type"])
        assert json.loads(body)["data"]["invoice"]["id"] == invoice_id
    assert sorted(types) == ["invoice.queued", "invoice.submitted"]
    assert len({headers["webhook-id"] for _, headers in received}) == 2
