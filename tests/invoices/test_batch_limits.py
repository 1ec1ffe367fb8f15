"""The batch route's own limits: its body size and item count, set apart from every other route."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.invoices.models import Invoice
from app.settings import Settings
from tests.builders import invoice_payload, ten_line_invoice
from tests.support.gateway import gateway_client

pytestmark = pytest.mark.usefixtures("registered_suppliers")

BATCH = "/v1/invoices/batch"
MIB = 1024 * 1024


async def stored_count(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Invoice)) or 0)


def batch_of(count: int, note_length: int) -> bytes:
    """`count` valid ten-line invoices, each with a note of `note_length` characters."""
    items = [{"invoice": ten_line_invoice(note="x" * note_length)} for _ in range(count)]
    return json.dumps({"invoices": items}).encode()


async def test_a_full_batch_over_the_global_body_limit_is_accepted_on_the_batch_route_only(
    settings: Settings,
    auth: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    body = batch_of(500, note_length=900)  # ~1.1 MB
    assert len(body) > MIB
    headers = {**auth, "Content-Type": "application/json"}
    # The defaults: 1 MiB for every route, 16 MiB and 500 items for the batch.
    async with gateway_client(
        settings, max_body_bytes=MIB, max_batch_body_bytes=16 * MIB, max_batch_items=500
    ) as http:
        single = await http.post("/v1/invoices", content=body, headers=headers)
        batch = await http.post(BATCH, content=body, headers=headers)

    assert single.status_code == 413
    assert single.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert batch.status_code == 200, batch.text[:500]
    statuses = {item["status"] for item in batch.json()["items"]}
    assert statuses == {201}
    assert await stored_count(sessionmaker) == 500


@pytest.mark.parametrize("announced", [True, False])
async def test_a_batch_over_its_body_limit_is_413_and_stores_nothing(
    settings: Settings,
    auth: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
    announced: bool,
) -> None:
    body = batch_of(50, note_length=300)
    assert 64 * 1024 < len(body) < 96 * 1024

    async def streamed() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    headers = {**auth, "Content-Type": "application/json"}
    async with gateway_client(
        settings, max_body_bytes=128 * 1024, max_batch_body_bytes=64 * 1024
    ) as http:
        response = await http.post(
            BATCH, content=body if announced else streamed(), headers=headers
        )
        under_global_limit = await http.post("/v1/invoices", content=body, headers=headers)

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert "API_MAX_BATCH_BODY_BYTES" in response.json()["detail"]
    # The same bytes are under the global limit elsewhere (refused there for their shape only).
    assert under_global_limit.status_code != 413
    assert await stored_count(sessionmaker) == 0


async def test_the_item_limit_is_the_setting(
    settings: Settings, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    def items(count: int) -> dict[str, Any]:
        return {"invoices": [{"invoice": invoice_payload()} for _ in range(count)]}

    async with gateway_client(settings, max_batch_items=3) as http:
        over = await http.post(BATCH, json=items(4), headers=auth)
        at = await http.post(BATCH, json=items(3), headers=auth)

    assert over.status_code == 422
    assert over.json()["code"] == "REQUEST_INVALID"
    assert over.json()["errors"][0]["field"] == "invoices"
    assert "at most 3" in over.json()["errors"][0]["message"]
    assert at.status_code == 200
    assert [item["status"] for item in at.json()["items"]] == [201, 201, 201]
    assert await stored_count(sessionmaker) == 3
