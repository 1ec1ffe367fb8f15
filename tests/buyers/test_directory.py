"""The buyer directory's cache stays bounded however many buyers are asked about."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.buyers.directory import BuyerDirectory, BuyerNotInChorus, directory_address
from app.domain.invoice import Address
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


async def test_a_buyers_profile_carries_its_directory_address(
    emulator: InProcessEmulator,
) -> None:
    async with emulator.client() as client:
        profile = await BuyerDirectory(client, ttl_seconds=60).profile(SUPPLIER_1, BUYERS[0])
    assert profile.address == Address(None, None, "75012", "PARIS", "FR")
    assert profile.requirements().name == profile.name
    assert profile.name == "SERVICES DE L'ETAT POUR LA FACTURATION ELECTRONIQUE"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            {
                "adresse": " 139 rue de Bercy ",
                "complementAdresse1": "Bâtiment Colbert",
                "complementAdresse2": "ignored",
                "codePostal": "75012",
                "ville": "PARIS",
                "pays": "fr",
            },
            Address("139 rue de Bercy", "Bâtiment Colbert", "75012", "PARIS", "FR"),
            id="iso_code_upper_cased",
        ),
        pytest.param(
            {"ville": "Paris", "pays": "France"},
            Address(city="Paris", country_code="FR"),
            id="name",
        ),
        pytest.param(
            {"ville": "Bruxelles", "pays": "BE"},
            Address(city="Bruxelles", country_code="BE"),
            id="be",
        ),
        pytest.param(
            {"ville": "Nouméa", "pays": "NOUVELLE-CALEDONIE"},
            Address(city="Nouméa"),
            id="unknown_name",
        ),
        pytest.param({"ville": "X", "pays": "É1"}, Address(city="X"), id="not_ascii"),
        pytest.param({"codePostal": 75012, "ville": ""}, None, id="not_text_and_blank"),
        pytest.param({}, None, id="empty"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_a_directory_address_maps_to_an_iso_country(
    raw: dict[str, object] | None, expected: Address | None
) -> None:
    assert directory_address(raw) == expected
