"""The `gateway` command line.

Most commands run in this process (tests/support/cli.py); the first test of each command family
runs the real `python -m app` in its own process.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.models import ApiClient
from app.structures.models import SupplierStructure
from tests.conftest import TEST_SECRETS_KEY
from tests.support.cli import (  # noqa: F401 - the fixtures gateway and gateway_process
    Gateway,
    gateway_in_its_own_process,
    gateway_in_this_process,
)


async def test_clients_create_prints_a_working_key_once(
    gateway_process: Gateway,
    http: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    result = await gateway_process.run(
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
    response = await http.get("/v1/invoices", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200


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


def test_migrate_is_idempotent(gateway_process: Gateway, gateway: Gateway) -> None:
    migrated = gateway_process("migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "latest revision" in migrated.stdout
    assert gateway("migrate").returncode == 0


async def test_clients_list_rotate_and_revoke_by_name(
    gateway: Gateway, http: httpx.AsyncClient
) -> None:
    created = await gateway.run(
        *["clients", "create", "--name", "cegid", "--supplier", "41234567010000"],
        *["--scope", "invoices:read", "--expires-at", "2099-01-31"],
    )
    assert created.returncode == 0, created.stderr
    first = created.stdout.strip().splitlines()[-1]
    assert "valid until 2099-01-31T00:00:00+00:00" in created.stdout
    listed = await gateway.run("clients", "list")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if " cegid " in line)
    assert "active" in row
    assert "2099-01-31T00:00:00+00:00" in row
    assert first not in listed.stdout
    as_json = json.loads((await gateway.run("clients", "list", "--json")).stdout)
    assert [c["name"] for c in as_json] == ["cegid"]
    assert set(as_json[0]) >= {"id", "key_prefix", "status"}
    assert "key" not in as_json[0]
    assert "key_hash" not in as_json[0]

    rotated = await gateway.run("clients", "rotate", "cegid")
    assert rotated.returncode == 0, rotated.stderr
    second = rotated.stdout.strip().splitlines()[-1]
    assert second.startswith("cpg_")
    assert second != first
    assert (await http.get("/v1/invoices", headers=_bearer(first))).status_code == 401
    assert (await http.get("/v1/invoices", headers=_bearer(second))).status_code == 200

    client_id = as_json[0]["id"]
    revoked = await gateway.run("clients", "revoke", client_id)
    assert revoked.returncode == 0, revoked.stderr
    assert "API_AUTH_CACHE_SECONDS" in revoked.stdout
    assert "revoked" in (await gateway.run("clients", "list")).stdout
    again = await gateway.run("clients", "rotate", "cegid")
    assert again.returncode != 0
    assert "revoked" in again.stderr
    assert (await gateway.run("clients", "revoke", "nobody")).returncode != 0


@pytest.mark.usefixtures("engine")
def test_clients_create_refuses_a_duplicate_name_and_a_bad_expiry(gateway: Gateway) -> None:
    args = ("clients", "create", "--name", "dup", "--scope", "operator")
    assert gateway(*args).returncode == 0
    duplicate = gateway(*args)
    assert duplicate.returncode != 0
    assert "already exists" in duplicate.stderr
    assert "Traceback" not in duplicate.stderr
    bad = gateway("clients", "create", "--name", "x", "--scope", "operator", "--expires-at", "soon")
    assert bad.returncode != 0
    assert "ISO 8601" in bad.stderr


@pytest.mark.parametrize(
    "command", [("clients", "create"), ("structures", "add"), ("clients", "list"), ("serve",)]
)
def test_help_names_values_plainly_and_never_cuts_a_scope(command: tuple[str, ...]) -> None:
    # Help reads no database: once, not once per backend.
    result = Gateway(None, in_process=True)(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "<bool>" not in result.stdout
    assert "<str>" not in result.stdout
    assert "<list" not in result.stdout
    if command == ("clients", "create"):
        assert "invoices:write" in result.stdout
        assert "invoices:read" in result.stdout
        assert "--scope SCOPE" in result.stdout
    if command == ("structures", "add"):
        assert "--no-rotate" not in result.stdout


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_structures_add_takes_the_invoice_vat_defaults(
    gateway_process: Gateway,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    monkeypatch.setenv("CHORUS_SECRETS_KEY", TEST_SECRETS_KEY.get_secret_value())
    password_file = tmp_path / "password"
    password_file.write_text("emulator-demo-1")
    account = ["--login", "TECH_1_41234567010000@cpro.fr", "--password-file", str(password_file)]
    refused = await gateway_process.run(
        *["structures", "add", "--siret", "41234567010000", *account, "--vat-regime", "TVA"]
    )
    assert refused.returncode != 0
    assert "EXONERATION" in refused.stderr  # the message names the regimes there are

    added = await gateway_process.run(
        *["structures", "add", "--siret", "41234567010000", *account],
        *["--vat-regime", "EXONERATION", "--vat-exemption-reason", "Article 261 du CGI"],
    )
    assert added.returncode == 0, added.stderr
    async with sessionmaker() as session:
        structure = await session.get(SupplierStructure, "41234567010000")
    assert structure is not None
    assert (structure.vat_regime, structure.vat_exemption_reason) == (
        "EXONERATION",
        "Article 261 du CGI",
    )
