"""The buyer directory's cache stays bounded however many buyers are asked about."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.buyers.directory import BuyerDirectory, BuyerNotInChorus
from tests.chorus.builders import SUPPLIER_1
from tests.chorus.conftest import InProcessEmulator

BUYERS = ["11000201100044", "12345678200028", "12345678200036", "12345678200044", "12345678200051"]


@pytest.fixture
async def emulator() -> AsyncIterator[InProcessEmulator]:
    emulator = InProcessEmulator(empty_search_not_found=True)
    yield emulator
    await emulator.aclose()


async def test_the_cache_keeps_at_most_its_size_least_recently_used_out(
    emulator: InProcessEmulator,
) -> None:
    async with emulator.client() as client:
        directory = BuyerDirectory(client, ttl_seconds=3600, max_entries=2)
        for siret in BUYERS:
            await directory.profile(SUPPLIER_1, siret)
        with pytest.raises(BuyerNotInChorus):
            await directory.profile(SUPPLIER_1, "12345678200069")
        assert directory.cached_buyers == 2
        assert directory.pending_lookups == 0
        calls_before = (await emulator.stats())["calls"]["structures/v1/consulter"]
        await directory.profile(SUPPLIER_1, BUYERS[-1])  # recently used: still cached
        await directory.profile(SUPPLIER_1, BUYERS[0])  # evicted: asked again
    calls = (await emulator.stats())["calls"]["structures/v1/consulter"]
    assert calls == calls_before + 1
    assert directory.cached_buyers == 2


async def test_per_buyer_locks_are_dropped_once_nobody_waits(
    emulator: InProcessEmulator,
) -> None:
    async with emulator.client() as client:
        directory = BuyerDirectory(client, ttl_seconds=0, max_entries=10)
        await asyncio.gather(*(directory.profile(SUPPLIER_1, s) for s in BUYERS * 4))
    assert directory.pending_lookups == 0


async def test_the_clients_structure_id_cache_is_bounded_too(
    emulator: InProcessEmulator,
) -> None:
    async with emulator.client(directory_cache_size=2) as client:
        for siret in BUYERS:
            await client.find_structure_id(SUPPLIER_1, siret)
        assert client.cached_structure_ids == 2
