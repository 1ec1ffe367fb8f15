"""POST /v1/invoices/batch: each item answered as the single endpoint would, on both databases."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.scopes import Scope
from app.events.models import Event
from app.events.work import EventWork
from app.invoices.models import Invoice
from app.invoices.work import InvoiceWork
from app.outbox.models import OutboxItem
from tests.builders import OTHER_SUPPLIER_SIRET, SUPPLIER_SIRET, invoice_payload
from tests.conftest import KeyFactory

pytestmark = pytest.mark.usefixtures("registered_suppliers")

BATCH = "/v1/invoices/batch"


async def stored_ids(sessionmaker: async_sessionmaker[AsyncSession]) -> set[str]:
    async with sessionmaker() as session:
        return set((await session.scalars(select(Invoice.id))).all())


async def test_a_mixed_batch_answers_each_item_in_order_and_stores_only_the_valid_ones(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    existing = await http.post("/v1/invoices", json=invoice_payload(), headers=auth)
    assert existing.status_code == 201
    valid = invoice_payload()
    invalid = invoice_payload(buyer={"siret": "123", "service_code": "SFACETAT"})
    other_supplier = invoice_payload(supplier={"siret": OTHER_SUPPLIER_SIRET, "name": "Other"})
    body = {
        "invoices": [
            {"invoice": valid},
            {"invoice": invalid},
            {"invoice": valid},
            {"invoice": {**valid, "invoice_number": existing.json()["invoice_number"]}},
            {"invoice": other_supplier},
            None,
            7,
            {"invoice": invoice_payload(), "idempotency_key": ""},
            valid,
        ]
    }

    response = await http.post(BATCH, json=body, headers=auth)

    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["status"] for item in items] == [201, 422, 409, 409, 422, 400, 400, 400, 400]
    created = items[0]["invoice"]
    assert created["invoice_number"] == valid["invoice_number"]
    assert created["status"] == "queued"
    assert items[0]["problem"] is None
    assert items[0]["replayed"] is False
    assert items[1]["problem"]["code"] == "INVOICE_INVALID"
    assert {e["field"] for e in items[1]["problem"]["errors"]} >= {"buyer.siret"}
    assert items[2]["problem"]["code"] == "DUPLICATE_INVOICE"
    assert items[2]["problem"]["existing_invoice_id"] == created["id"]
    assert items[3]["problem"]["existing_invoice_id"] == existing.json()["id"]
    assert [e["code"] for e in items[4]["problem"]["errors"]] == ["SUPPLIER_NOT_ALLOWED"]
    assert [item["problem"]["code"] for item in items[5:8]] == [
        "MALFORMED_REQUEST",
        "MALFORMED_REQUEST",
        "IDEMPOTENCY_KEY_INVALID",
    ]
    assert items[8]["problem"]["code"] == "MALFORMED_REQUEST"  # an invoice sent unwrapped
    assert all(item["invoice"] is None for item in items[1:])
    assert items[5]["problem"]["instance"] == f"{BATCH}#/invoices/5"
    assert await stored_ids(sessionmaker) == {existing.json()["id"], created["id"]}


async def test_an_item_is_answered_with_the_single_endpoints_body_and_problem(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    invalid = invoice_payload(totals={"net": "1.00", "vat": "0.20", "gross": "1.20"})
    alone = await http.post("/v1/invoices", json=invalid, headers=auth)
    valid = invoice_payload()
    response = await http.post(
        BATCH, json={"invoices": [{"invoice": invalid}, {"invoice": valid}]}, headers=auth
    )
    problem, created = (item for item in response.json()["items"])
    assert alone.status_code == problem["status"] == 422
    assert {**problem["problem"], "instance": None} == {**alone.json(), "instance": None}
    fetched = await http.get(f"/v1/invoices/{created['invoice']['id']}", headers=auth)
    assert created["invoice"] == fetched.json()


async def test_an_idempotency_key_replays_across_batches_and_within_one(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    payload = invoice_payload()
    item = {"idempotency_key": "order-1", "invoice": payload}
    first = await http.post(BATCH, json={"invoices": [item]}, headers=auth)
    second = await http.post(BATCH, json={"invoices": [item, item]}, headers=auth)
    alone = await http.post(
        "/v1/invoices", json=payload, headers={**auth, "Idempotency-Key": "order-1"}
    )

    (created,) = first.json()["items"]
    assert created["status"] == 201
    assert created["replayed"] is False
    for replay in second.json()["items"]:
        assert replay == {**created, "replayed": True}
    assert alone.status_code == 201
    assert alone.headers["idempotent-replayed"] == "true"
    assert alone.json() == created["invoice"]
    assert await stored_ids(sessionmaker) == {created["invoice"]["id"]}


async def test_a_key_reused_with_another_invoice_is_422_for_that_item_only(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    body = {
        "invoices": [
            {"idempotency_key": "order-2", "invoice": invoice_payload()},
            {"idempotency_key": "order-2", "invoice": invoice_payload()},
            {"idempotency_key": "order-3", "invoice": invoice_payload()},
        ]
    }
    response = await http.post(BATCH, json=body, headers=auth)
    items = response.json()["items"]
    assert [item["status"] for item in items] == [201, 422, 201]
    assert items[1]["problem"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(await stored_ids(sessionmaker)) == 2


async def test_a_failed_item_leaves_its_key_free_for_a_retry(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    existing = await http.post("/v1/invoices", json=invoice_payload(), headers=auth)
    duplicate = invoice_payload(invoice_number=existing.json()["invoice_number"])
    key = "order-4"
    first = await http.post(
        BATCH, json={"invoices": [{"idempotency_key": key, "invoice": duplicate}]}, headers=auth
    )
    retried = await http.post(
        BATCH,
        json={"invoices": [{"idempotency_key": key, "invoice": invoice_payload()}]},
        headers=auth,
    )
    assert first.json()["items"][0]["status"] == 409
    assert retried.json()["items"][0]["status"] == 201
    assert len(await stored_ids(sessionmaker)) == 2


async def test_a_batch_over_the_limit_stores_nothing(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    items: list[dict[str, Any]] = [{"invoice": invoice_payload()}]
    items += [{"invoice": {}}] * 500  # API_MAX_BATCH_ITEMS's default
    response = await http.post(BATCH, json={"invoices": items}, headers=auth)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "REQUEST_INVALID"
    assert response.json()["errors"][0]["field"] == "invoices"
    assert await stored_ids(sessionmaker) == set()


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "MALFORMED_REQUEST"),
        (b"[]", "application/json", 400, "MALFORMED_REQUEST"),
        (b"null", "application/json", 400, "MALFORMED_REQUEST"),
        (b"\xff\xfe", "application/json", 400, "MALFORMED_REQUEST"),
        (b"[" * 60_000, "application/json", 400, "MALFORMED_REQUEST"),
        (b"{}", "application/json", 422, "REQUEST_INVALID"),
        (b'{"invoices": null}', "application/json", 422, "REQUEST_INVALID"),
        (b'{"invoices": {}}', "application/json", 422, "REQUEST_INVALID"),
        (b'{"invoices": "x"}', "application/json", 422, "REQUEST_INVALID"),
        (b'{"invoices": []}', "application/json", 422, "REQUEST_INVALID"),
        (b'{"invoices": [{"invoice": {}}], "x": 1}', "application/json", 422, "REQUEST_INVALID"),
        (b'{"invoices": []}', "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b'{"invoices": []}', "multipart/form-data", 415, "UNSUPPORTED_MEDIA_TYPE"),
    ],
)
async def test_a_body_that_is_not_a_batch_is_a_problem_and_stores_nothing(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
    content: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    response = await http.post(
        BATCH, content=content, headers={**auth, "Content-Type": content_type}
    )
    assert response.status_code == status
    assert response.json()["code"] == code
    assert await stored_ids(sessionmaker) == set()


@pytest.mark.parametrize(
    "item",
    [
        {"invoice": None},
        {"invoice": []},
        {"invoice": "x" * 50_000},
        {"invoice": invoice_payload(invoice_number="x" * 50_000)},
        {"invoice": invoice_payload(note="é" * 20_000)},
        {"invoice": invoice_payload(lines=[None, 3, "x"])},
        {"invoice": invoice_payload(totals={"net": 1e308, "vat": -1, "gross": "NaN"})},
        {"invoice": invoice_payload(), "idempotency_key": "k" * 256},
        {"invoice": invoice_payload(), "idempotency_key": 42},
        {"invoice": invoice_payload(), "idempotency_key": "clé"},
        {"invoice": invoice_payload(), "idempotency_key": ["a"]},
        {"idempotency_key": "order-5"},
        {},
    ],
)
async def test_a_hostile_item_is_a_client_problem_never_a_500(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
    item: dict[str, Any],
) -> None:
    response = await http.post(BATCH, json={"invoices": [item]}, headers=auth)
    assert response.status_code == 200
    (answer,) = response.json()["items"]
    assert answer["status"] in (400, 422)
    assert answer["problem"]["status"] == answer["status"]
    assert await stored_ids(sessionmaker) == set()


async def test_a_client_without_the_write_scope_gets_403_and_nothing_is_stored(
    http: httpx.AsyncClient, make_key: KeyFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    reader = await make_key(scopes=(Scope.INVOICES_READ,))
    response = await http.post(
        BATCH, json={"invoices": [{"invoice": invoice_payload()}]}, headers=reader
    )
    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"
    assert await stored_ids(sessionmaker) == set()


async def test_a_batch_without_a_key_is_401(http: httpx.AsyncClient) -> None:
    response = await http.post(BATCH, json={"invoices": [{"invoice": invoice_payload()}]})
    assert response.status_code == 401


async def test_an_operator_may_submit_for_any_supplier(
    http: httpx.AsyncClient, make_key: KeyFactory
) -> None:
    operator = await make_key(scopes=(Scope.OPERATOR,), suppliers=())
    other = invoice_payload(supplier={"siret": OTHER_SUPPLIER_SIRET, "name": "Other"})
    mine = invoice_payload(supplier={"siret": SUPPLIER_SIRET, "name": "Mine"})
    response = await http.post(
        BATCH, json={"invoices": [{"invoice": other}, {"invoice": mine}]}, headers=operator
    )
    assert [item["status"] for item in response.json()["items"]] == [201, 201]


async def test_each_stored_item_has_its_queued_event_and_outbox_row(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    body = {
        "invoices": [
            {"invoice": invoice_payload()},
            {"invoice": invoice_payload(buyer=None)},
            {"invoice": invoice_payload()},
        ]
    }
    response = await http.post(BATCH, json=body, headers=auth)
    created = {item["invoice"]["id"] for item in response.json()["items"] if item["invoice"]}
    assert len(created) == 2
    async with sessionmaker() as session:
        deliveries = await session.scalars(
            select(OutboxItem.invoice_id).where(OutboxItem.kind == InvoiceWork.DELIVER)
        )
        events = (await session.execute(select(Event.invoice_id, Event.type))).all()
        fan_outs = await session.scalar(
            select(func.count()).select_from(OutboxItem).where(OutboxItem.kind == EventWork.FAN_OUT)
        )
    assert sorted(deliveries.all()) == sorted(created)
    assert sorted(events) == sorted((invoice_id, "invoice.queued") for invoice_id in created)
    assert fan_outs == len(events)
