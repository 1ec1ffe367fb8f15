"""What /health shows about workers, the Chorus link and paused structures, as a worker delivers
to the served emulator."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.outbox.worker import Worker
from app.settings import Settings
from app.structures.models import SupplierStructure
from tests.support.delivery import (
    ACME_LOGIN,
    ACME_PASSWORD,
    Post,
    delivery_settings,
    drain,
    submitted,
)

pytestmark = pytest.mark.usefixtures("acme")


@pytest.fixture
def settings(settings: Settings, served_emulator: str) -> Settings:
    delivering = delivery_settings(settings, served_emulator)
    # A worker is alive for 3 heartbeats: 0.6 s with the fast delivery clock, which a loaded
    # machine can stall past between the heartbeat and the /health query.
    outbox = delivering.outbox.model_copy(update={"heartbeat_seconds": 2.0})
    return delivering.model_copy(update={"outbox": outbox})


async def test_health_shows_live_workers_and_the_last_chorus_answer(
    post: Post,
    worker: Worker,
    gateway: httpx.AsyncClient,
    operator: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    invoice_id = await post()
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await drain(worker, sessionmaker, invoice_id, submitted)
        for _ in range(100):  # until a heartbeat after the delivery carries Chorus's answer
            body = (await gateway.get("/health", headers=operator)).json()
            if body["chorus"]["last_success_at"] is not None:
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await running
    assert [w["id"] for w in body["workers"]] == ["test-worker"]
    assert body["workers"][0]["alive"] is True
    assert body["chorus"]["last_success_at"] is not None
    after_stop = (await gateway.get("/health", headers=operator)).json()
    assert after_stop["workers"][0]["alive"] is False


async def test_health_lists_structures_paused_for_auth_failures(
    post: Post,
    worker: Worker,
    gateway: httpx.AsyncClient,
    operator: dict[str, str],
    emulator: httpx.AsyncClient,
) -> None:
    await emulator.post(f"/_emulator/accounts/{ACME_LOGIN}/password", json={"password": "new"})
    await post()
    await worker.run_once()
    paused = (await gateway.get("/health", headers=operator)).json()["structures"]["paused"]
    assert [p["siret"] for p in paused] == ["41234567010000"]
    assert "refused the technical account" in paused[0]["reason"]


async def test_health_warns_15_days_before_a_technical_password_expires(
    post: Post,
    worker: Worker,
    gateway: httpx.AsyncClient,
    operator: dict[str, str],
    emulator: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    invoice_id = await post()
    await drain(worker, sessionmaker, invoice_id, submitted)
    fine = (await gateway.get("/health", headers=operator)).json()
    assert fine["structures"]["password_expiring"] == []
    soon = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    await emulator.post(
        f"/_emulator/accounts/{ACME_LOGIN}/password",
        json={"password": ACME_PASSWORD, "password_expires_at": soon},
    )
    async with sessionmaker() as session, session.begin():
        await session.execute(update(SupplierStructure).values(checked_at=None))
    second = await post()
    await drain(worker, sessionmaker, second, submitted)
    body = (await gateway.get("/health", headers=operator)).json()
    [expiring] = body["structures"]["password_expiring"]
    assert expiring["siret"] == "41234567010000"
    assert any("expires" in warning for warning in body["warnings"])
