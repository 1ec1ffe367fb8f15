"""Run the `gateway` command against a test database: in this process, or in a process of its own.

A process of its own is the real thing (entry point, imports, exit status) but costs seconds of
interpreter start and imports per command; in this process a command costs what it does. The
CLI tests run most commands here and keep a real process for at least one test per command
family.

From an async test, use `await gateway.run(...)`: a command blocking the test's event loop
would also stall the app served on it, which may hold SQLite's write lock meanwhile, and the
command would then wait for that lock until "database is locked".

A CLI test module imports the fixtures `gateway` (in this process) and `gateway_process` (a
process of its own) from here.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import traceback
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.settings import get_settings

# A fixed width: help wrapping must hold on narrow terminals too.
COLUMNS = "80"


@dataclass(frozen=True)
class Ran:
    """What a command did, as `subprocess.CompletedProcess` tells it."""

    returncode: int
    stdout: str
    stderr: str


class Gateway:
    """The `gateway` command on one database; `in_process=False` runs `python -m app`."""

    def __init__(self, database_url: str | None, *, in_process: bool) -> None:
        self.env = {"COLUMNS": COLUMNS}
        if database_url is not None:
            self.env["DATABASE_URL"] = database_url
        self.in_process = in_process

    def __call__(self, *args: str) -> Ran:
        """Run the command, blocking; refused on a running event loop (see the module doc)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._run(args)
        raise RuntimeError("a running event loop: use `await gateway.run(...)`")

    async def run(self, *args: str) -> Ran:
        """Run the command on a thread, the event loop running meanwhile."""
        return await asyncio.to_thread(self._run, args)

    def _run(self, args: tuple[str, ...]) -> Ran:
        if not self.in_process:
            completed = subprocess.run(  # noqa: S603 - our own command, fixed arguments
                [sys.executable, "-m", "app", *args],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                env={**os.environ, **self.env},
            )
            return Ran(completed.returncode, completed.stdout, completed.stderr)
        # The settings are read once per process: read them again, from this command's env.
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(cli, list(args), env=self.env)
        finally:
            get_settings.cache_clear()
        stderr = result.stderr
        if result.exc_info is not None and not isinstance(result.exception, SystemExit):
            # What the interpreter would print for a crash, so tests can assert there is none.
            stderr += "".join(traceback.format_exception(*result.exc_info))
        return Ran(result.exit_code, result.stdout, stderr)


@pytest.fixture(name="gateway")
def gateway_in_this_process(database_url: str) -> Gateway:
    """The `gateway` command on the test database, run in this process."""
    return Gateway(database_url, in_process=True)


@pytest.fixture(name="gateway_process")
def gateway_in_its_own_process(database_url: str) -> Gateway:
    """The real `gateway` command, in its own process, on the test database."""
    return Gateway(database_url, in_process=False)
