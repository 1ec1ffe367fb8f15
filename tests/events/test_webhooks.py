"""Events reach a subscribed endpoint through the worker, signed, in order; slow ones wait apart."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from app.invoices import repository
from app.outbox.worker import Worker
from app.settings import Settings, WebhookSettings
from tests.support.delivery import Post, delivery_settings, drain, submitted
from tests.support.servers import serve_app

pytestmark = pytest.mark.usefixtures("acme")

# More slow receivers than the worker has slots of either kind.
SLOW_RECEIVERS = 4
SLOTS = 2
DEADLINE_SECONDS = 20.0


@pytest.fixture
def settings(settings: Settings, served_emulator: str) -> Settings:
    """Receivers are served on loopback: the documented development mode lets them in."""
    delivering = delivery_settings(settings, served_emulator)
    webhook = WebhookSettings(
        allow_private_targets=True, concurrency=SLOTS, timeout_seconds=DEADLINE_SECONDS
    )
    outbox = delivering.outbox.model_copy(update={"batch_size": SLOTS})
    return delivering.model_copy(update={"webhook": webhook, "outbox": outbox})


async def test_status_events_are_pushed_signed_to_subscribers(
    post: Post,
    worker: Worker,
    gateway: httpx.AsyncClient,
    operator: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    received: list[tuple[bytes, dict[str, str]]] = []
    receiver = FastAPI()

    @receiver.post("/hook")
    async def hook(request: Request) -> dict[str, str]:
        received.append((await request.body(), dict(request.headers)))
        return {}

    with serve_app(receiver) as url:
        created = await gateway.post(
            "/v1/webhooks",
            json={"url": f"{url}/hook", "event_types": ["invoice.queued", "invoice.submitted"]},
            headers=operator,
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        invoice_id = await post()
        await drain(worker, sessionmaker, invoice_id, submitted)
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


class Trickler:
    """Webhook receivers that answer 200 then one byte every 0.1 s until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started: list[float] = []
        self.finished: list[float] = []

    def app(self) -> Starlette:
        async def trickle(request: Request) -> Response:
            await request.body()
            self.started.append(time.monotonic())
            return StreamingResponse(self._bytes())

        return Starlette(routes=[Route("/trickle/{n:int}", trickle, methods=["POST"])])

    async def _bytes(self) -> AsyncIterator[bytes]:
        try:
            for _ in range(int(3 * DEADLINE_SECONDS * 10)):
                if self.release.is_set():
                    return
                yield b"."
                await asyncio.sleep(0.1)
        finally:
            self.finished.append(time.monotonic())


async def test_slow_webhook_receivers_never_delay_an_invoice(
    post: Post,
    worker: Worker,
    gateway: httpx.AsyncClient,
    operator: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    trickler = Trickler()
    stop = asyncio.Event()
    with serve_app(trickler.app()) as url:
        for n in range(SLOW_RECEIVERS):
            created = await gateway.post(
                "/v1/webhooks", json={"url": f"{url}/trickle/{n}"}, headers=operator
            )
            assert created.status_code == 201, created.text
        running = asyncio.create_task(worker.run(stop))
        try:
            await post()  # its events go to every slow receiver
            while len(trickler.started) < SLOTS:
                assert not running.done()
                await asyncio.sleep(0.05)
            # Every slot webhooks may take is now held by a receiver that never finishes in time.
            deadline = trickler.started[0] + DEADLINE_SECONDS
            invoice_id = await post()
            status = "queued"
            while status != "submitted" and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                async with sessionmaker() as session:
                    invoice = await repository.get(session, invoice_id)
                assert invoice is not None
                status = invoice.status
            assert status == "submitted", "the invoice waited for the webhooks' deadline"
            assert trickler.finished == [], "the slow deliveries were all still in hand"
        finally:
            trickler.release.set()
            stop.set()
            await asyncio.wait_for(running, timeout=DEADLINE_SECONDS + 10)
