"""GET /v1/events: in order, after a seq, limited, filtered, and only the caller's suppliers."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.scopes import Scope
from app.events.service import record_event
from app.events.types import EventType
from tests.builders import OTHER_SUPPLIER_SIRET, SUPPLIER_SIRET
from tests.conftest import KeyFactory
from tests.events.builders import add_invoice

# (supplier, event type) in the order they happen.
HISTORY = [
    (SUPPLIER_SIRET, EventType.INVOICE_QUEUED),
    (OTHER_SUPPLIER_SIRET, EventType.INVOICE_QUEUED),
    (SUPPLIER_SIRET, EventType.INVOICE_SUBMITTED),
    (OTHER_SUPPLIER_SIRET, EventType.INVOICE_REJECTED),
    (SUPPLIER_SIRET, EventType.INVOICE_PAID),
]


@pytest.fixture
async def recorded(sessionmaker: async_sessionmaker[AsyncSession]) -> list[tuple[str, str, str]]:
    """The events of HISTORY, as (supplier, type, event id)."""
    recorded = []
    async with sessionmaker() as session, session.begin():
        invoices = {
            siret: await add_invoice(session, supplier_siret=siret)
            for siret in (SUPPLIER_SIRET, OTHER_SUPPLIER_SIRET)
        }
        for siret, event_type in HISTORY:
            event = await record_event(session, type=event_type, invoice=invoices[siret])
            recorded.append((siret, str(event_type), event.id))
    return recorded


async def read(
    http: httpx.AsyncClient, headers: dict[str, str], query: str = ""
) -> dict[str, object]:
    response = await http.get(f"/v1/events{query}", headers=headers)
    assert response.status_code == 200, response.text
    page: dict[str, object] = response.json()
    return page


def seqs(page: dict[str, object]) -> list[str]:
    """The event ids of a page, in feed order."""
    assert isinstance(page["items"], list)
    positions = [item["position"] for item in page["items"]]
    assert positions == sorted(positions)
    return [item["id"] for item in page["items"]]


async def test_operators_read_every_event_in_order(
    events_http: httpx.AsyncClient, operator: dict[str, str], recorded: list[tuple[str, str, str]]
) -> None:
    page = await read(events_http, operator)
    assert seqs(page) == [seq for _, _, seq in recorded]
    assert isinstance(page["items"], list)
    assert page["next_after"] == page["items"][-1]["position"]
    first = page["items"][0]
    assert set(first) == {"position", "id", "type", "created_at", "data"}
    assert first["type"] == "invoice.queued"
    assert first["id"].startswith("evt_")
    assert first["data"]["invoice"]["supplier"]["siret"] == SUPPLIER_SIRET


async def test_after_and_limit_page_through_the_feed(
    events_http: httpx.AsyncClient, operator: dict[str, str], recorded: list[tuple[str, str, str]]
) -> None:
    seen: list[str] = []
    after = 0
    for _ in range(len(recorded) + 1):
        page = await read(events_http, operator, f"?after={after}&limit=2")
        if not page["items"]:
            break
        seen += seqs(page)
        assert isinstance(page["next_after"], int)
        after = page["next_after"]
    assert seen == [seq for _, _, seq in recorded]
    assert (await read(events_http, operator, f"?after={after}"))["next_after"] == after


async def test_type_filters_the_feed(
    events_http: httpx.AsyncClient, operator: dict[str, str], recorded: list[tuple[str, str, str]]
) -> None:
    page = await read(events_http, operator, "?type=invoice.queued")
    assert seqs(page) == [seq for _, kind, seq in recorded if kind == "invoice.queued"]


async def test_a_client_sees_only_its_suppliers_events(
    events_http: httpx.AsyncClient, make_key: KeyFactory, recorded: list[tuple[str, str, str]]
) -> None:
    mine = await make_key(scopes=(Scope.INVOICES_READ,), suppliers=(SUPPLIER_SIRET,))
    other = await make_key(scopes=(Scope.INVOICES_READ,), suppliers=(OTHER_SUPPLIER_SIRET,))
    nobody = await make_key(scopes=(Scope.INVOICES_READ,), suppliers=())
    assert seqs(await read(events_http, mine)) == [
        seq for siret, _, seq in recorded if siret == SUPPLIER_SIRET
    ]
    other_page = await read(events_http, other, "?limit=500")
    assert seqs(other_page) == [seq for siret, _, seq in recorded if siret == OTHER_SUPPLIER_SIRET]
    assert SUPPLIER_SIRET not in str(other_page)
    assert seqs(await read(events_http, nobody, "?after=0")) == []


async def test_the_feed_needs_a_key_with_the_read_scope(
    events_http: httpx.AsyncClient, make_key: KeyFactory
) -> None:
    anonymous = await events_http.get("/v1/events")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    writer = await make_key(scopes=(Scope.INVOICES_WRITE,))
    assert (await events_http.get("/v1/events", headers=writer)).status_code == 403


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?limit=0", "limit"),
        ("?limit=501", "limit"),
        ("?after=-1", "after"),
        ("?after=abc", "after"),
        ("?type=invoice.deleted", "type"),
        ("?after=9223372036854775808", "after"),  # one past the largest 64-bit integer
        ("?after=123456789012345678901234567890", "after"),
        ("?limit=18446744073709551617", "limit"),
        ("?after=%00", "after"),
        ("?type=invoice.paid%00", "type"),
    ],
)
async def test_bad_parameters_are_422_naming_the_field(
    events_http: httpx.AsyncClient, operator: dict[str, str], query: str, field: str
) -> None:
    response = await events_http.get(f"/v1/events{query}", headers=operator)
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]


async def test_the_largest_64_bit_position_is_a_valid_after(
    events_http: httpx.AsyncClient, operator: dict[str, str], recorded: list[tuple[str, str, str]]
) -> None:
    page = await read(events_http, operator, "?after=9223372036854775807")
    assert page == {"items": [], "next_after": 9223372036854775807}


async def test_an_event_that_commits_late_is_not_skipped(
    events_http: httpx.AsyncClient,
    operator: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A transaction that began first but commits last must still reach feed readers."""
    async with sessionmaker() as setup, setup.begin():
        invoice = await add_invoice(setup, supplier_siret=SUPPLIER_SIRET)
    slow = sessionmaker()
    fast = sessionmaker()
    try:
        await slow.begin()
        early = await record_event(slow, type=EventType.INVOICE_SUBMITTED, invoice=invoice)
        early_id = early.id
        if slow.get_bind().dialect.name == "sqlite":
            # One writer at a time: the slow transaction must end before another can write.
            await slow.commit()
        async with fast.begin():
            late = await record_event(fast, type=EventType.INVOICE_PAID, invoice=invoice)
            late_id = late.id
        first = await read(events_http, operator)
        await slow.commit()
    finally:
        await slow.close()
        await fast.close()
    after = first["next_after"]
    second = await read(events_http, operator, f"?after={after}")
    assert sorted(seqs(first) + seqs(second)) == sorted([early_id, late_id])
