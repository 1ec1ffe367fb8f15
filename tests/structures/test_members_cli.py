"""`gateway structures` member verbs: what a principal does through the API, from the host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.scopes import Scope
from app.auth.service import authenticate, create_client
from tests.builders import SUPPLIER_SIRET

pytestmark = pytest.mark.usefixtures("registered_suppliers")

Gateway = Callable[..., subprocess.CompletedProcess[str]]
S = SUPPLIER_SIRET


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
            env={**os.environ, "DATABASE_URL": database_url, "COLUMNS": "80"},
        )

    return run


async def _clients(sessionmaker: async_sessionmaker[AsyncSession], *names: str) -> None:
    async with sessionmaker() as session, session.begin():
        for name in names:
            await create_client(
                session,
                name=name,
                scopes=(Scope.INVOICES_WRITE, Scope.INVOICES_READ),
                supplier_sirets=(),
            )


async def test_the_member_verbs_walk_the_story_and_are_audited(
    gateway: Gateway, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # No app runs beside the commands: a blocking subprocess would stall its event loop while
    # it may hold SQLite's write lock.
    await _clients(sessionmaker, "erp", "firm")
    attached = gateway("structures", "attach", S, "erp")
    assert attached.returncode == 0, attached.stderr
    assert "as principal" in attached.stdout
    asked = gateway("structures", "request", S, "firm", "--note", "Cabinet Durand")
    assert "pending" in asked.stdout, asked.stderr
    pending = json.loads(gateway("structures", "requests", S, "--json").stdout)
    assert [(r["name"], r["note"]) for r in pending] == [("firm", "Cabinet Durand")]
    assert "approved, member" in gateway("structures", "approve", S, "firm").stdout

    members = json.loads(gateway("structures", "members", S, "--json").stdout)
    assert [(m["name"], m["role"]) for m in members] == [("erp", "principal"), ("firm", "member")]
    table = gateway("structures", "members", S).stdout
    assert table.splitlines()[0].split() == [
        "CLIENT_ID",
        "NAME",
        "ROLE",
        "CLIENT_STATUS",
        "DECIDED_AT",
    ]

    assert "approved, principal" in gateway("structures", "principal", S, "firm").stdout
    refused = gateway("structures", "detach", S, "firm")
    assert refused.returncode == 2
    assert "pass the principal role" in refused.stderr
    assert "detached" in gateway("structures", "detach", S, "erp").stdout

    created = gateway(
        "structures", "member-key", S, "--name", "compta", "--scope", "invoices:write"
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    async with sessionmaker() as session:
        member = await authenticate(session, key)
    assert member is not None
    assert (member.supplier_sirets, member.scopes) == ({S}, {Scope.INVOICES_WRITE})

    audit = json.loads(gateway("structures", "audit", S, "--json").stdout)
    assert [entry["action"] for entry in audit] == [
        "structure.member_attached",
        "structure.principal_changed",
        "structure.attachment_requested",
        "structure.member_attached",
        "structure.principal_changed",
        "structure.member_detached",
        "structure.member_attached",
    ]
    assert {entry["actor"] for entry in audit} == {"command line"}


def test_the_member_verbs_refuse_unknown_clients_and_structures(gateway: Gateway) -> None:
    unknown_client = gateway("structures", "attach", S, "nobody")
    assert unknown_client.returncode == 2
    assert "nobody" in unknown_client.stderr
    unknown_structure = gateway("structures", "members", "11000201100044")
    assert unknown_structure.returncode == 2
    assert "No supplier structure" in unknown_structure.stderr
