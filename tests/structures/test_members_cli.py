"""`gateway structures` member verbs: what a principal does through the API, from the host."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.scopes import Scope
from app.auth.service import authenticate, create_client
from tests.builders import SUPPLIER_SIRET
from tests.support.cli import (  # noqa: F401 - the fixtures gateway and gateway_process
    Gateway,
    gateway_in_its_own_process,
    gateway_in_this_process,
)

pytestmark = pytest.mark.usefixtures("registered_suppliers")

S = SUPPLIER_SIRET


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
    await _clients(sessionmaker, "erp", "firm")
    attached = await gateway.run("structures", "attach", S, "erp")
    assert attached.returncode == 0, attached.stderr
    assert "as principal" in attached.stdout
    asked = await gateway.run("structures", "request", S, "firm", "--note", "Cabinet Durand")
    assert "pending" in asked.stdout, asked.stderr
    pending = json.loads((await gateway.run("structures", "requests", S, "--json")).stdout)
    assert [(r["name"], r["note"]) for r in pending] == [("firm", "Cabinet Durand")]
    assert "approved, member" in (await gateway.run("structures", "approve", S, "firm")).stdout

    members = json.loads((await gateway.run("structures", "members", S, "--json")).stdout)
    assert [(m["name"], m["role"]) for m in members] == [("erp", "principal"), ("firm", "member")]
    table = (await gateway.run("structures", "members", S)).stdout
    assert table.splitlines()[0].split() == [
        "CLIENT_ID",
        "NAME",
        "ROLE",
        "CLIENT_STATUS",
        "DECIDED_AT",
    ]

    assert "approved, principal" in (await gateway.run("structures", "principal", S, "firm")).stdout
    refused = await gateway.run("structures", "detach", S, "firm")
    assert refused.returncode == 2
    assert "pass the principal role" in refused.stderr
    assert "detached" in (await gateway.run("structures", "detach", S, "erp")).stdout

    created = await gateway.run(
        "structures", "member-key", S, "--name", "compta", "--scope", "invoices:write"
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    async with sessionmaker() as session:
        member = await authenticate(session, key)
    assert member is not None
    assert (member.supplier_sirets, member.scopes) == ({S}, {Scope.INVOICES_WRITE})

    audit = json.loads((await gateway.run("structures", "audit", S, "--json")).stdout)
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


def test_the_member_verbs_refuse_unknown_clients_and_structures(
    gateway_process: Gateway,
) -> None:
    # In a process of its own: the exit status and message as a shell sees them.
    unknown_client = gateway_process("structures", "attach", S, "nobody")
    assert unknown_client.returncode == 2
    assert "nobody" in unknown_client.stderr
    unknown_structure = gateway_process("structures", "members", "11000201100044")
    assert unknown_structure.returncode == 2
    assert "No supplier structure" in unknown_structure.stderr
