"""The CLI tests' way of running `gateway` (tests/support/cli.py) from an async test.

The SQLite flake "database is locked" in tests/test_cli.py came from a command run blocking on
the test's event loop while the app served on that loop (its idempotency purger, a request's
session) held SQLite's write lock: the lock could not be released until the command ended, and
the command gave up after SQLite's 30 s busy timeout.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.scopes import Scope
from app.auth.service import create_client
from tests.support.cli import Gateway


@pytest.mark.parametrize("in_process", [True, False], ids=["in-process", "own-process"])
async def test_a_command_waits_for_a_transaction_open_on_the_tests_loop(
    database_url: str, sessionmaker: async_sessionmaker[AsyncSession], in_process: bool
) -> None:
    holding = asyncio.Event()

    async def hold_the_write_lock() -> None:
        async with sessionmaker() as session, session.begin():
            await create_client(
                session, name="holder", scopes=(Scope.OPERATOR,), supplier_sirets=()
            )
            holding.set()
            # Committing needs the loop: the command must leave it running meanwhile.
            await asyncio.sleep(0.2)

    holder = asyncio.create_task(hold_the_write_lock())
    await holding.wait()
    gateway = Gateway(database_url, in_process=in_process)
    result = await gateway.run("clients", "create", "--name", "second", "--scope", "operator")
    await holder
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("cpg_")


async def test_a_blocking_command_is_refused_on_a_running_loop() -> None:
    with pytest.raises(RuntimeError, match=r"await gateway\.run"):
        Gateway(None, in_process=True)("clients", "list")
