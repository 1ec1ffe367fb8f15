"""A supplier structure's registered address: the seller's on invoices that give none."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.domain.invoice import Address
from app.structures.models import SupplierStructure
from app.structures.service import structure_address
from tests.builders import SUPPLIER_SIRET
from tests.conftest import TEST_SECRETS_KEY

LOGIN = "TECH_1_41234567010000@cpro.fr"
PASSWORD = "emulator-demo-1"


def structure(**fields: Any) -> dict[str, Any]:
    return {"siret": SUPPLIER_SIRET, "login": LOGIN, "password": PASSWORD, **fields}


async def test_the_address_is_registered_normalized_and_listed(
    http: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    address = {
        "line1": " 1 rue de la Paix ",
        "line2": "",
        "postal_code": "75002",
        "city": "Paris",
        "country_code": "fr",
    }
    response = await http.post("/v1/structures", json=structure(address=address), headers=operator)
    assert response.status_code == 201, response.text
    expected = {
        "line1": "1 rue de la Paix",
        "line2": None,
        "postal_code": "75002",
        "city": "Paris",
        "country_code": "FR",
    }
    assert response.json()["address"] == expected
    listed = await http.get("/v1/structures", headers=operator)
    assert [s["address"] for s in listed.json()] == [expected]


async def test_a_structure_without_an_address_shows_none(
    http: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    response = await http.post("/v1/structures", json=structure(), headers=operator)
    assert response.status_code == 201, response.text
    assert response.json()["address"] is None


@pytest.mark.parametrize(
    ("address", "field"),
    [
        ({"city": "Paris"}, "address.country_code"),
        ({"country_code": "FRA"}, "address.country_code"),
        ({"postal_code": "7500", "country_code": "FR"}, "address.postal_code"),
        ({"city": "Pa\u0000ris", "country_code": "FR"}, "address.city"),
        ({"street": "x", "country_code": "FR"}, "address.street"),
    ],
)
async def test_an_address_without_a_valid_country_or_with_bad_parts_is_422(
    http: httpx.AsyncClient, operator: dict[str, str], address: dict[str, str], field: str
) -> None:
    response = await http.post("/v1/structures", json=structure(address=address), headers=operator)
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}, response.text


async def test_the_cli_registers_the_address(
    database_url: str, tmp_path: Path, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CHORUS_SECRETS_KEY": TEST_SECRETS_KEY.get_secret_value(),
    }
    common = ["--siret", SUPPLIER_SIRET, "--login", LOGIN, "--password-file", str(password_file)]

    def add(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own command
            [sys.executable, "-m", "app", "structures", "add", *common, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=env,
        )

    refused = add("--city", "Paris", "--country-code", "France")
    assert refused.returncode != 0
    assert "country_code" in refused.stderr
    added = add(
        "--address-line1",
        "1 rue de la Paix",
        "--postal-code",
        "75002",
        "--city",
        "Paris",
        "--country-code",
        "fr",
    )
    assert added.returncode == 0, added.stderr

    not_rotated = add("--rotate", "--city", "Lyon")
    assert not_rotated.returncode != 0
    assert "address" in not_rotated.stderr
    async with sessionmaker() as session:
        stored = await session.scalar(select(SupplierStructure))
    assert stored is not None
    assert structure_address(stored) == Address("1 rue de la Paix", None, "75002", "Paris", "FR")
