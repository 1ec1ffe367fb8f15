"""Liveness, readiness and the detailed report."""

from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager

from app.main import create_app
from app.settings import DatabaseSettings, Settings
from tests.builders import invoice_payload


async def test_live_and_ready_answer_200_on_a_migrated_database(http: httpx.AsyncClient) -> None:
    assert (await http.get("/health/live")).json() == {"status": "ok"}
    ready = await http.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["migrations"]["at_head"] is True


async def test_health_reports_the_outbox_backlog_and_target(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await http.post("/v1/invoices", json=invoice_payload(), headers=auth)
    body = (await http.get("/health")).json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["outbox"]["invoice.deliver"]["pending"] == 1
    assert body["outbox"]["invoice.deliver"]["failed"] == 0
    assert body["outbox"]["invoice.deliver"]["oldest_due_age_seconds"] >= 0
    assert body["outbox"]["webhook.deliver"]["pending"] == 0
    assert body["invoices"] == {"failed": 0}
    assert body["workers"] == []
    assert body["structures"] == {"paused": [], "password_expiring": []}
    assert body["warnings"] == []
    assert body["chorus"]["target"] == "emulator"
    assert body["chorus"]["last_success_at"] is None


async def _probe(url: str) -> tuple[httpx.Response, httpx.Response]:
    app = create_app(Settings(database=DatabaseSettings(url=url)))
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        ) as client,
    ):
        return await client.get("/health/ready"), await client.get("/health")


async def test_ready_is_503_when_the_schema_is_behind(tmp_path: object) -> None:
    ready, health = await _probe(f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    assert ready.status_code == 503
    assert ready.json()["migrations"] == {
        "current": None,
        "head": ready.json()["migrations"]["head"],
        "at_head": False,
    }
    assert health.status_code == 503


async def test_ready_is_503_when_the_database_is_unreachable() -> None:
    ready, health = await _probe("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    assert ready.status_code == 503
    assert ready.json()["database"] == "unreachable"
    assert health.json()["database"]["ok"] is False


async def test_responses_carry_the_request_id(http: httpx.AsyncClient) -> None:
    given = await http.get("/health/live", headers={"X-Request-ID": "erp-123"})
    assert given.headers["x-request-id"] == "erp-123"
    generated = await http.get("/health/live", headers={"X-Request-ID": "bad id\twith spaces"})
    assert generated.headers["x-request-id"] != "bad id\twith spaces"
    assert len(generated.headers["x-request-id"]) == 32
