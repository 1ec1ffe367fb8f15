"""Each API process remembers registered supplier structures for API_SUPPLIER_CACHE_SECONDS."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.scopes import Scope
from app.invoices.models import Invoice
from app.settings import Settings
from app.structures.models import SupplierStructure
from tests.builders import OTHER_SUPPLIER_SIRET, SUPPLIER_SIRET, invoice_payload
from tests.conftest import KeyFactory
from tests.support.gateway import gateway_client, set_demo_structure

pytestmark = pytest.mark.usefixtures("registered_suppliers")


@contextlib.contextmanager
def structure_reads() -> Iterator[list[str]]:
    """The SELECTs on the supplier structure table run by any engine meanwhile."""
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "supplier_structure" in statement:
            reads.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield reads
    finally:
        event.remove(Engine, "before_cursor_execute", count)


async def channel_of(
    sessionmaker: async_sessionmaker[AsyncSession], response: httpx.Response
) -> str:
    assert response.status_code == 201, response.text
    async with sessionmaker() as session:
        invoice = await session.get(Invoice, response.json()["id"])
    assert invoice is not None
    return invoice.chorus_channel


async def test_two_posts_for_the_same_supplier_read_its_structure_once(
    settings: Settings, auth: dict[str, str]
) -> None:
    async with gateway_client(settings, supplier_cache_seconds=5) as http:
        with structure_reads() as reads:
            for _ in range(2):
                response = await http.post("/v1/invoices", json=invoice_payload(), headers=auth)
                assert response.status_code == 201, response.text
    assert len(reads) == 1


async def test_a_cache_of_zero_seconds_reads_the_structure_on_every_post(
    settings: Settings, auth: dict[str, str]
) -> None:
    async with gateway_client(settings, supplier_cache_seconds=0) as http:
        with structure_reads() as reads:
            for _ in range(2):
                response = await http.post("/v1/invoices", json=invoice_payload(), headers=auth)
                assert response.status_code == 201, response.text
    assert len(reads) == 2


async def test_a_change_through_this_process_is_seen_at_once_one_elsewhere_after_the_delay(
    settings: Settings, make_key: KeyFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    operator = await make_key(scopes=(Scope.OPERATOR,), suppliers=())
    async with gateway_client(settings, supplier_cache_seconds=300) as http:

        async def post() -> httpx.Response:
            return await http.post("/v1/invoices", json=invoice_payload(), headers=operator)

        assert await channel_of(sessionmaker, await post()) == "cii"
        patched = await http.patch(
            f"/v1/structures/{SUPPLIER_SIRET}", json={"delivery_format": "ubl"}, headers=operator
        )
        assert patched.status_code == 200, patched.text
        assert await channel_of(sessionmaker, await post()) == "ubl"
        # Another process's change (here straight into the database) waits for the delay.
        await set_demo_structure(sessionmaker, delivery_format="cii")
        assert await channel_of(sessionmaker, await post()) == "ubl"


async def test_an_unregistered_supplier_is_not_remembered(
    settings: Settings, make_key: KeyFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    operator = await make_key(scopes=(Scope.OPERATOR,), suppliers=())
    other = {"siret": OTHER_SUPPLIER_SIRET, "name": "Other"}
    async with sessionmaker() as session, session.begin():
        structure = await session.get(SupplierStructure, OTHER_SUPPLIER_SIRET)
        assert structure is not None
        await session.delete(structure)
        # Re-added below the way another process would, after the first post.
        kept = {
            column.key: getattr(structure, column.key)
            for column in SupplierStructure.__table__.columns
        }
    async with gateway_client(settings, supplier_cache_seconds=300) as http:
        refused = await http.post(
            "/v1/invoices", json=invoice_payload(supplier=other), headers=operator
        )
        assert refused.status_code == 422
        assert "SUPPLIER_NOT_REGISTERED" in {e["code"] for e in refused.json()["errors"]}
        async with sessionmaker() as session, session.begin():
            session.add(SupplierStructure(**kept))
        accepted = await http.post(
            "/v1/invoices", json=invoice_payload(supplier=other), headers=operator
        )
        assert accepted.status_code == 201, accepted.text
