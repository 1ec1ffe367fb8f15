"""Liveness, readiness and the detailed report."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.health.service import failed_invoices, outbox_backlog
from app.invoices.models import Invoice
from app.metrics import serve_process_metrics
from app.outbox.models import OutboxItem
from app.settings import DatabaseSettings, MetricsSettings, Settings
from app.structures.models import SupplierStructure
from tests.builders import SUPPLIER_SIRET, invoice_payload
from tests.support.gateway import gateway_client
from tests.support.servers import free_port

CHECKS = {"database", "migrations", "workers", "outbox", "invoices", "structures"}


async def test_live_and_ready_answer_200_on_a_migrated_database(http: httpx.AsyncClient) -> None:
    assert (await http.get("/health/live")).json() == {"status": "ok"}
    ready = await http.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["migrations"]["at_head"] is True


@pytest.mark.usefixtures("registered_suppliers")
async def test_health_reports_the_outbox_backlog_and_target_to_an_operator(
    http: httpx.AsyncClient, auth: dict[str, str], operator: dict[str, str]
) -> None:
    await http.post("/v1/invoices", json=invoice_payload(), headers=auth)
    body = (await http.get("/health", headers=operator)).json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == CHECKS
    assert body["database"]["ok"] is True
    assert body["outbox"]["invoice.deliver"]["pending"] == 1
    assert body["outbox"]["invoice.deliver"]["failed"] == 0
    assert body["outbox"]["invoice.deliver"]["oldest_due_age_seconds"] >= 0
    assert body["outbox"]["webhook.deliver"]["pending"] == 0
    assert body["invoices"] == {"failed": 0, "blocked": []}
    assert body["workers"] == []
    assert body["structures"] == {"paused": [], "password_expiring": []}
    assert body["warnings"] == []
    assert body["chorus"]["target"] == "emulator"
    assert body["chorus"]["last_success_at"] is None


async def _probe(url: str) -> tuple[httpx.Response, httpx.Response]:
    async with gateway_client(Settings(database=DatabaseSettings(url=url))) as client:
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
    assert health.status_code == 503
    assert health.json() == {
        "status": "not_ready",
        "checks": {"database": "fail", "migrations": "fail"},
    }


async def test_responses_carry_the_request_id(http: httpx.AsyncClient) -> None:
    given = await http.get("/health/live", headers={"X-Request-ID": "erp-123"})
    assert given.headers["x-request-id"] == "erp-123"
    generated = await http.get("/health/live", headers={"X-Request-ID": "bad id\twith spaces"})
    assert generated.headers["x-request-id"] != "bad id\twith spaces"
    assert len(generated.headers["x-request-id"]) == 32


@pytest.mark.usefixtures("registered_suppliers")
async def test_health_without_an_operator_key_shows_only_status_and_checks(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await http.post("/v1/invoices", json=invoice_payload(), headers=auth)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(SupplierStructure).values(
                paused_at=datetime.now(UTC), paused_reason="Chorus refused TECH_1 login"
            )
        )
    for headers in ({}, auth):
        response = await http.get("/health", headers=headers)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"status", "checks"}
        assert set(body["checks"]) == CHECKS
        assert body["checks"]["structures"] == "warn"
        assert SUPPLIER_SIRET not in response.text
        assert "TECH_1" not in response.text
        assert "127.0.0.1" not in response.text
    bad_key = await http.get("/health", headers={"Authorization": "Bearer cpg_nope"})
    assert bad_key.status_code == 401


@pytest.mark.usefixtures("registered_suppliers")
async def test_health_warns_about_invoices_blocked_by_a_missing_or_paused_structure(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    operator: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    created = await http.post("/v1/invoices", json=invoice_payload(), headers=auth)
    assert created.status_code == 201, created.text
    invoice_id = created.json()["id"]
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(SupplierStructure).values(
                paused_at=datetime.now(UTC), paused_reason="credentials refused"
            )
        )
    paused = (await http.get("/health", headers=operator)).json()
    assert paused["invoices"]["blocked"] == [
        {"id": invoice_id, "supplier_siret": SUPPLIER_SIRET, "reason": "structure paused"}
    ]
    assert any(invoice_id not in w and "structure paused" in w for w in paused["warnings"])
    assert paused["checks"]["invoices"] == "warn"
    # Data from before structures were required at submission: no structure at all.
    async with sessionmaker() as session, session.begin():
        await session.execute(delete(SupplierStructure))
    missing = (await http.get("/health", headers=operator)).json()
    [blocked] = missing["invoices"]["blocked"]
    assert blocked["reason"] == "no registered structure"
    assert any(SUPPLIER_SIRET in w and "no registered structure" in w for w in missing["warnings"])


@pytest.mark.usefixtures("registered_suppliers")
async def test_backlog_counts_stop_at_their_cap(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    for number in range(3):
        payload = invoice_payload(invoice_number=f"F-CAP-{number}")
        assert (await http.post("/v1/invoices", json=payload, headers=auth)).status_code == 201
    async with sessionmaker() as session, session.begin():
        await session.execute(update(OutboxItem).values(state="failed"))
        await session.execute(update(Invoice).values(status="failed"))
    async with sessionmaker() as session:
        capped = await outbox_backlog(session, cap=2)
        assert sum(item.failed for item in capped.values()) == 2
        assert (await outbox_backlog(session))["invoice.deliver"].failed == 3
        assert await failed_invoices(session, cap=2) == 2
        assert await failed_invoices(session) == 3


async def test_metrics_need_the_token_when_one_is_set(settings: Settings) -> None:
    token = "scrape-me-" + "x" * 20
    metrics = MetricsSettings(token=SecretStr(token))
    async with gateway_client(settings.model_copy(update={"metrics": metrics})) as client:
        missing = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.headers["www-authenticate"] == "Bearer"
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert "gateway_outbox_pending" in right.text


async def test_metrics_are_open_without_a_token(http: httpx.AsyncClient) -> None:
    assert (await http.get("/metrics")).status_code == 200


def test_the_worker_metrics_port_needs_the_token_too() -> None:
    token = "scrape-me-" + "y" * 20
    port = free_port()
    server = serve_process_metrics("127.0.0.1", port, SecretStr(token))
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
        scraped = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    finally:
        server.shutdown()
        server.server_close()
    assert scraped.status_code == 200
    assert "gateway_deliveries_total" in scraped.text


async def test_a_key_sent_while_the_database_is_down_gets_503_never_500() -> None:
    unreachable = DatabaseSettings(url="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    key = {"Authorization": "Bearer cpg_anything"}
    async with gateway_client(Settings(database=unreachable)) as client:
        health = await client.get("/health", headers=key)
        listing = await client.get("/v1/invoices", headers=key)
    assert health.status_code == 503
    assert set(health.json()) == {"status", "checks"}
    assert listing.status_code == 503
    assert listing.json()["code"] == "NOT_READY"
