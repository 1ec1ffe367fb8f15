"""The `gateway` command line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.models import ApiClient
from tests.builders import invoice_payload

Gateway = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def gateway(database_url: str) -> Gateway:
    """Run the real `gateway` command in its own process against the test database."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own command, fixed arguments
            [sys.executable, "-m", "app", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "DATABASE_URL": database_url},
        )

    return run


async def test_clients_create_prints_a_working_key_once(
    gateway: Gateway,
    http: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    result = gateway(
        *[
            "clients",
            "create",
            "--name",
            "sage",
            "--supplier",
            "412 345 670 10000",
            "--scope",
            "invoices:write",
            "--scope",
            "invoices:read",
        ]
    )
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("cpg_")
    async with sessionmaker() as session:
        client = await session.scalar(select(ApiClient).where(ApiClient.name == "sage"))
    assert client is not None
    assert client.supplier_sirets == ["41234567010000"]
    assert key not in str(client.key_hash)
    response = await http.post(
        "/v1/invoices", json=invoice_payload(), headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 201


def test_clients_create_refuses_an_invalid_siret_and_scope(gateway: Gateway) -> None:
    bad_siret = gateway(
        "clients", "create", "--name", "x", "--supplier", "123", "--scope", "invoices:read"
    )
    assert bad_siret.returncode != 0
    assert "invalid supplier SIRET" in bad_siret.stderr
    bad_scope = gateway(
        "clients", "create", "--name", "y", "--supplier", "41234567010000", "--scope", "admin"
    )
    assert bad_scope.returncode != 0


def test_migrate_is_idempotent(gateway: Gateway) -> None:
    assert gateway("migrate").returncode == 0
    assert gateway("migrate").returncode == 0
