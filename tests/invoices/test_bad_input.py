"""Whatever a client sends, the answer is a clear 4xx problem, and nothing is written."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.invoices.models import Invoice
from app.outbox.models import OutboxItem
from tests.builders import invoice_payload

pytestmark = pytest.mark.usefixtures("registered_suppliers")

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"{not json", JSON, 400),
        (b"[]", JSON, 400),
        (b"\xff\xfe\xfd", JSON, 400),
        (b'{"invoice_number": NaN}', JSON, 400),
        (b'{"lines": [{"quantity": ' + b"9" * 6000 + b"}]}", JSON, 400),
        (b'{"lines": [{"quantity": 1e400}]}', JSON, 422),
        (b'{"lines": [{"quantity": "1e999999999"}]}', JSON, 422),
        (b'{"invoice_number": 12, "lines": {"a": 1}, "type": 3}', JSON, 422),
        (b'{"unknown": true}', JSON, 422),
        (b"invoice_number=1", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
        (b"{}", {"Content-Type": "text/plain"}, 415),
        (b"{}", {}, 415),
    ],
)
async def test_bad_bodies_get_a_problem_not_a_500(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
    body: bytes,
    headers: dict[str, str],
    status: int,
) -> None:
    response = await http.post("/v1/invoices", content=body, headers={**auth, **headers})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Invoice)) == 0
        assert await session.scalar(select(func.count()).select_from(OutboxItem)) == 0


async def test_an_oversized_body_is_413_when_announced(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    payload = invoice_payload(note="x" * 100_000)
    response = await http.post("/v1/invoices", json=payload, headers=auth)
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"


async def test_an_oversized_body_is_413_when_streamed_without_length(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(100):
            yield b" " * 1024

    response = await http.post(
        "/v1/invoices", content=chunks(), headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 413


async def test_bad_query_parameters_are_422_problems(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    for query in ("limit=0", "limit=abc", "status=lost", "cursor=%%%"):
        response = await http.get(f"/v1/invoices?{query}", headers=auth)
        assert response.status_code == 422, (query, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"]


async def test_an_unknown_path_is_a_404_problem(http: httpx.AsyncClient) -> None:
    response = await http.get("/v2/nothing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
