"""Metrics and structured logs over a full run: post, deliver to the served emulator, read back."""

from __future__ import annotations

import json

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.logging import configure_logging
from app.outbox.worker import Worker
from app.settings import LogSettings, Settings
from tests.builders import invoice_payload
from tests.support.delivery import ACME_PASSWORD, delivery_settings, drain, submitted
from tests.support.gateway import TEST_SECRETS_KEY

pytestmark = pytest.mark.usefixtures("acme")


@pytest.fixture
def settings(settings: Settings, served_emulator: str) -> Settings:
    return delivery_settings(settings, served_emulator)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_metrics_count_requests_validation_deliveries_and_chorus_calls(
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    route = {"method": "GET", "route": "/v1/invoices/{invoice_id}"}
    before = {
        "gets": sample("gateway_http_requests_total", **route, status="200"),
        "ej": sample("gateway_validation_failures_total", code="EJ_REQUIRED"),
        "deposited": sample("gateway_deliveries_total", outcome="deposited"),
        "integrated": sample("gateway_deliveries_total", outcome="integrated"),
        "flux": sample(
            "gateway_chorus_call_duration_seconds_count",
            endpoint="factures/v1/deposer/flux",
            outcome="success",
        ),
    }
    await gateway.post("/v1/invoices", json=invoice_payload(legal_commitment=None), headers=auth)
    created = await gateway.post("/v1/invoices", json=invoice_payload(), headers=auth)
    invoice_id = created.json()["id"]
    await gateway.get(f"/v1/invoices/{invoice_id}", headers=auth)
    scraped = (await gateway.get("/metrics")).text
    assert 'gateway_outbox_pending{kind="invoice.deliver"} 1.0' in scraped
    assert 'gateway_invoices{status="queued"} 1.0' in scraped
    assert "gateway_http_request_duration_seconds_bucket" in scraped
    await drain(worker, sessionmaker, invoice_id, submitted)
    assert sample("gateway_http_requests_total", **route, status="200") == before["gets"] + 1
    assert sample("gateway_validation_failures_total", code="EJ_REQUIRED") == before["ej"] + 1
    assert sample("gateway_deliveries_total", outcome="deposited") == before["deposited"] + 1
    assert sample("gateway_deliveries_total", outcome="integrated") == before["integrated"] + 1
    assert (
        sample(
            "gateway_chorus_call_duration_seconds_count",
            endpoint="factures/v1/deposer/flux",
            outcome="success",
        )
        == before["flux"] + 1
    )
    after = (await gateway.get("/metrics")).text
    assert 'gateway_invoices{status="submitted"} 1.0' in after
    assert 'gateway_outbox_pending{kind="invoice.sync"} 1.0' in after


async def test_logs_are_json_lines_with_request_ids_and_no_secret(
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    worker: Worker,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(LogSettings(level="DEBUG", format="json"))
    try:
        capsys.readouterr()
        created = await gateway.post(
            "/v1/invoices", json=invoice_payload(), headers={**auth, "X-Request-ID": "erp-req-42"}
        )
        invoice_id = created.json()["id"]
        await gateway.get("/v1/invoices?limit=5", headers=auth)
        await gateway.post("/v1/invoices", json={"supplier": {"siret": "1"}}, headers=auth)
        await drain(worker, sessionmaker, invoice_id, submitted)
        output = capsys.readouterr().out
    finally:
        with capsys.disabled():
            configure_logging(LogSettings())
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    requests = [line for line in lines if line["event"] == "request"]
    posted = next(line for line in requests if line["request_id"] == "erp-req-42")
    assert posted["route"] == "/v1/invoices"
    assert posted["status"] == 201
    assert posted["client_id"].startswith("cli_")
    attempts = [line for line in lines if line["event"] == "outbox.attempt"]
    assert any(line["invoice_id"] == invoice_id and line["outcome"] == "Done" for line in attempts)
    assert all(line["request_id"].startswith("outbox-") for line in attempts)
    secrets = [
        auth["Authorization"].removeprefix("Bearer "),
        ACME_PASSWORD,
        settings.chorus.client_secret.get_secret_value(),
        TEST_SECRETS_KEY.get_secret_value(),
    ]
    for secret in secrets:
        assert secret not in output
    assert "Bearer " not in output
