"""Idempotency-Key semantics and the natural key under concurrency, on both databases."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.base import utc_now
from app.idempotency import service as idempotency
from app.idempotency.models import IdempotencyRecord
from app.invoices.models import Invoice
from app.invoices.service import submission_fingerprint
from app.outbox.models import OutboxItem
from tests.builders import invoice_payload
from tests.conftest import KeyFactory

pytestmark = pytest.mark.usefixtures("registered_suppliers")


async def invoices_stored(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Invoice)) or 0)


async def test_the_same_key_and_body_replays_the_first_response(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    headers = {**auth, "Idempotency-Key": "order-42"}
    payload = invoice_payload()
    first = await http.post("/v1/invoices", json=payload, headers=headers)
    second = await http.post("/v1/invoices", json=payload, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await invoices_stored(sessionmaker) == 1


async def test_a_replay_matches_on_the_normalized_body(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    headers = {**auth, "Idempotency-Key": "order-43"}
    payload = invoice_payload()
    first = await http.post("/v1/invoices", json=payload, headers=headers)
    spaced = {**payload, "buyer": {**payload["buyer"], "siret": "110 002 011 000 44"}}
    second = await http.post("/v1/invoices", json=spaced, headers=headers)
    assert second.status_code == 201
    assert second.json()["id"] == first.json()["id"]


async def test_the_same_key_with_another_body_is_422(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    headers = {**auth, "Idempotency-Key": "order-44"}
    await http.post("/v1/invoices", json=invoice_payload(), headers=headers)
    response = await http.post("/v1/invoices", json=invoice_payload(), headers=headers)
    assert response.status_code == 422
    assert response.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await invoices_stored(sessionmaker) == 1


async def _left_in_flight(
    sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    auth: dict[str, str],
    payload: dict[str, object],
    *,
    key: str,
    locked_for: timedelta,
) -> None:
    """A key claimed but never completed, as releases before 2026-11-28 left one when their
    request died (they claimed keys in a transaction of their own)."""
    validated = await http.post("/v1/invoices/validate", json=payload, headers=auth)
    now = utc_now()
    async with sessionmaker() as session, session.begin():
        session.add(
            IdempotencyRecord(
                client_id=await _client_id(sessionmaker),
                key=key,
                fingerprint=submission_fingerprint(validated.json()["invoice"], None),
                state=idempotency.IN_FLIGHT,
                locked_until=now + locked_for,
                created_at=now,
                expires_at=now + timedelta(hours=24),
            )
        )


async def test_the_same_key_while_an_earlier_release_holds_it_in_flight_is_409(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    payload = invoice_payload()
    await _left_in_flight(
        sessionmaker, http, auth, payload, key="order-45", locked_for=timedelta(seconds=60)
    )
    response = await http.post(
        "/v1/invoices", json=payload, headers={**auth, "Idempotency-Key": "order-45"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "IDEMPOTENCY_KEY_IN_FLIGHT"
    assert response.headers["retry-after"] == "1"
    assert await invoices_stored(sessionmaker) == 0


async def test_a_key_whose_first_request_died_can_be_taken_over(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    payload = invoice_payload()
    await _left_in_flight(
        sessionmaker, http, auth, payload, key="order-46", locked_for=timedelta(seconds=-1)
    )
    response = await http.post(
        "/v1/invoices", json=payload, headers={**auth, "Idempotency-Key": "order-46"}
    )
    assert response.status_code == 201
    replay = await http.post(
        "/v1/invoices", json=payload, headers={**auth, "Idempotency-Key": "order-46"}
    )
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == response.json()["id"]


async def test_the_key_is_stored_with_the_invoice_and_its_answer(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    response = await http.post(
        "/v1/invoices", json=invoice_payload(), headers={**auth, "Idempotency-Key": "order-47"}
    )
    async with sessionmaker() as session:
        record = await session.scalar(select(IdempotencyRecord))
    assert record is not None
    assert record.state == idempotency.COMPLETED
    assert record.response_status == 201
    assert record.response_body == response.json()
    assert record.resource_path == response.headers["location"]


async def test_a_refused_duplicate_leaves_no_key_behind(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    payload = invoice_payload()
    assert (await http.post("/v1/invoices", json=payload, headers=auth)).status_code == 201
    duplicate = await http.post(
        "/v1/invoices", json=payload, headers={**auth, "Idempotency-Key": "order-48"}
    )
    assert duplicate.json()["code"] == "DUPLICATE_INVOICE"
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0


async def test_keys_are_scoped_per_client(
    http: httpx.AsyncClient, make_key: KeyFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first_client = {**await make_key(), "Idempotency-Key": "shared"}
    second_client = {**await make_key(), "Idempotency-Key": "shared"}
    one = await http.post("/v1/invoices", json=invoice_payload(), headers=first_client)
    two = await http.post("/v1/invoices", json=invoice_payload(), headers=second_client)
    assert one.status_code == two.status_code == 201
    assert one.json()["id"] != two.json()["id"]


async def test_keys_live_24_hours_then_are_purged(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await http.post(
        "/v1/invoices", json=invoice_payload(), headers={**auth, "Idempotency-Key": "old"}
    )
    async with sessionmaker() as session, session.begin():
        record = await session.scalar(select(IdempotencyRecord))
        assert record is not None
        assert record.expires_at - record.created_at >= timedelta(hours=24)
        assert await idempotency.purge_expired(session, utc_now() + timedelta(hours=23)) == 0
        assert await idempotency.purge_expired(session, utc_now() + timedelta(hours=25)) == 1


async def test_a_failed_request_releases_its_key(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    headers = {**auth, "Idempotency-Key": "dup"}
    payload = invoice_payload()
    await http.post("/v1/invoices", json=payload)  # no auth: nothing happens
    assert (await http.post("/v1/invoices", json=payload, headers=auth)).status_code == 201
    duplicate = await http.post("/v1/invoices", json=payload, headers=headers)
    assert duplicate.status_code == 409
    again = await http.post("/v1/invoices", json=payload, headers=headers)
    assert again.json()["code"] == "DUPLICATE_INVOICE"


async def test_concurrent_identical_posts_create_exactly_one_invoice(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    payload = invoice_payload()
    responses = await asyncio.gather(
        *(http.post("/v1/invoices", json=payload, headers=auth) for _ in range(8))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 7
    winner = next(r for r in responses if r.status_code == 201).json()["id"]
    assert {r.json()["existing_invoice_id"] for r in responses if r.status_code == 409} == {winner}
    assert await invoices_stored(sessionmaker) == 1
    async with sessionmaker() as session:
        deliveries = select(func.count()).where(OutboxItem.kind == "invoice.deliver")
        assert await session.scalar(deliveries) == 1


async def test_concurrent_posts_with_one_key_all_get_the_first_answer(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A request that finds the key taken waits for the first to commit, then replays it."""
    payload = invoice_payload()
    headers = {**auth, "Idempotency-Key": "burst"}
    responses = await asyncio.gather(
        *(http.post("/v1/invoices", json=payload, headers=headers) for _ in range(8))
    )
    assert [r.status_code for r in responses] == [201] * 8
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 7
    assert await invoices_stored(sessionmaker) == 1


async def test_the_natural_key_is_enforced_by_the_database(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Even a write that skipped the service's check cannot create a second row."""
    from sqlalchemy.exc import IntegrityError

    created = (await http.post("/v1/invoices", json=invoice_payload(), headers=auth)).json()
    async with sessionmaker() as session:
        original = await session.get(Invoice, created["id"])
        assert original is not None
        clone = Invoice(
            **{
                column.key: getattr(original, column.key)
                for column in Invoice.__table__.columns
                if column.key != "id"
            },
            id="inv_CLONE",
        )
        session.add(clone)
        with pytest.raises(IntegrityError):
            await session.flush()


async def _client_id(sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    from app.auth.models import ApiClient

    async with sessionmaker() as session:
        client_id = await session.scalar(select(ApiClient.id))
    assert client_id is not None
    return client_id


async def test_expired_records_do_not_block_a_new_request(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    headers = {**auth, "Idempotency-Key": "recycled"}
    await http.post("/v1/invoices", json=invoice_payload(), headers=headers)
    async with sessionmaker() as session, session.begin():
        await session.execute(update(IdempotencyRecord).values(expires_at=utc_now()))
    response = await http.post("/v1/invoices", json=invoice_payload(), headers=headers)
    assert response.status_code == 201


def test_an_absent_optional_field_does_not_change_the_fingerprint() -> None:
    # A key stored before a release that added an optional field must still replay after it.
    before = {"invoice_number": "F1", "buyer": {"siret": "11000201100044"}, "lines": [{"q": "1"}]}
    after = {
        "invoice_number": "F1",
        "contract_reference": None,
        "buyer": {"siret": "11000201100044", "address": None},
        "lines": [{"q": "1", "unit_note": None}],
    }

    assert submission_fingerprint(after, None) == submission_fingerprint(before, None)
    assert submission_fingerprint({**before, "note": "x"}, None) != submission_fingerprint(
        before, None
    )
