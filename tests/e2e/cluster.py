"""Run the whole gateway as real processes on loopback: emulator, API, workers, one database.

Used by the chaos test (`tests/e2e/test_chaos.py`) and the chaos script (`scripts/chaos.py`).
Every process is a child of this one, started with `python -m app ...` from the repository root
and configured only through environment variables; each writes its output to a log file in the
work directory. Every wait is bounded. `Cluster.close()` stops (then kills) every child it
started, by pid, and drops the database it created.

    async with Cluster(ClusterConfig(database="postgresql", workdir=tmp)) as cluster:
        await cluster.start(workers=2)
        ...  # cluster.api_url, cluster.emulator_url, cluster.api_key
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

REPO_ROOT = Path(__file__).resolve().parents[2]
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
LOOPBACK = "127.0.0.1"

Backend = Literal["postgresql", "sqlite"]

# The emulator's two demo suppliers and their technical accounts (app/emulator/data).
DEMO_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("41234567010000", "TECH_1_41234567010000@cpro.fr", "emulator-demo-1"),
    ("52345678810009", "TECH_1_52345678810009@cpro.fr", "emulator-demo-2"),
)
SUPPLIER_SIRETS: tuple[str, ...] = tuple(siret for siret, _, _ in DEMO_ACCOUNTS)
# Registered with each supplier: a structured document (flux channels) needs the seller's address.
SUPPLIER_ADDRESS: tuple[str, ...] = (
    *("--address-line1", "10 rue de la Paix", "--postal-code", "75002"),
    *("--city", "Paris", "--country-code", "FR"),
)

# Fast retries and short leases so a chaos run drains in seconds, not hours. The lease must
# outlive connect + read timeouts (a live worker never loses its lease to a slow call).
FAST_WORKER_ENV: dict[str, str] = {
    "OUTBOX_POLL_INTERVAL_SECONDS": "0.05",
    "OUTBOX_RETRY_BASE_SECONDS": "0.2",
    "OUTBOX_RETRY_CAP_SECONDS": "2",
    "OUTBOX_RETRY_MAX_ATTEMPTS": "40",
    "OUTBOX_LEASE_SECONDS": "5",
    "OUTBOX_SYNC_FIRST_DELAY_SECONDS": "3600",
    "OUTBOX_BATCH_SIZE": "16",
    "CHORUS_CONNECT_TIMEOUT_SECONDS": "1",
    "CHORUS_READ_TIMEOUT_SECONDS": "1.5",
}
# Variables of ours that must not leak from the caller's environment into the children.
_OWN_PREFIXES = ("DATABASE_", "API_", "CHORUS_", "OUTBOX_", "LOG_", "EMULATOR_")
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


class ClusterError(RuntimeError):
    """A process did not start, answer or finish as expected (the message has its log tail)."""


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if the harness dies (Linux; best effort)."""
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _spawn(args: list[str], env: Mapping[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    """Start `python -m app <args>` (fork + exec: returns at once; never waits on the child)."""
    preexec: Callable[[], None] | None = _die_with_parent if sys.platform == "linux" else None
    return subprocess.Popen(  # noqa: S603 - fixed argv: this interpreter running our own app
        [sys.executable, "-m", "app", *args],
        cwd=REPO_ROOT,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a Ctrl-C in the terminal reaches us; we stop them in order
        preexec_fn=preexec,  # only prctl(PR_SET_PDEATHSIG): takes no lock, safe after fork
    )


@dataclass
class Process:
    """One child process and its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    started_at: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        """The child's pid."""
        return self.popen.pid

    @property
    def alive(self) -> bool:
        """Whether it is still running."""
        return self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        """Its exit status (negative: the signal that ended it), None while running."""
        return self.popen.poll()

    def signal(self, signum: int) -> None:
        """Send `signum` to this child, by pid, unless it already exited."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    async def wait(self, within: float) -> int | None:
        """Wait up to `within` seconds for it to exit; its exit status or None."""
        deadline = time.monotonic() + within
        # A Popen child has no awaitable exit: poll, bounded by the deadline.
        while self.alive and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return self.returncode

    def cpu_seconds(self) -> float | None:
        """User + system CPU time so far (Linux /proc), None if unknown or exited."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text(encoding="ascii")
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state is fields[0]
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 40) -> str:
        """The end of its output, for error messages."""
        try:
            content = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(content.splitlines()[-lines:])


@dataclass
class ClusterConfig:
    """What to run: the database backend, where files go, and extra settings."""

    database: Backend
    workdir: Path
    postgres_admin_url: str = POSTGRES_ADMIN_URL
    # Settings for every gateway process (API, workers, CLI); the worker ones are added last.
    gateway_env: dict[str, str] = field(default_factory=dict)
    worker_env: dict[str, str] = field(default_factory=lambda: dict(FAST_WORKER_ENV))
    emulator_env: dict[str, str] = field(default_factory=dict)
    startup_timeout_seconds: float = 60.0


class Cluster:
    """The emulator, the API and N workers over one fresh database; see the module docstring."""

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.workdir = config.workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.emulator_port = free_port()
        self.api_port = free_port()
        self.emulator_url = f"http://{LOOPBACK}:{self.emulator_port}"
        self.api_url = f"http://{LOOPBACK}:{self.api_port}"
        self.database_url = ""
        self.database_name: str | None = None
        self.api_key = ""
        self.emulator: Process | None = None
        self.api: Process | None = None
        self.workers: list[Process] = []  # the live ones, in start order
        self.processes: list[Process] = []  # every child ever started
        self._logs: list[IO[bytes]] = []
        self._worker_count = 0
        self._observer: AsyncEngine | None = None
        self._secrets_key = ""

    # -- lifetime -------------------------------------------------------------------------

    async def __aenter__(self) -> Cluster:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self, *, workers: int) -> None:
        """Database, emulator, technical accounts, API key, API and `workers` workers; ready."""
        from app.crypto import new_key  # the function behind `structures new-key`

        self._secrets_key = new_key()
        self.emulator = self._start("emulator", ["emulator", "--port", str(self.emulator_port)])
        await self._create_database()
        # Migrate once, alone; then everything that starts finds the schema at head.
        await self.run_cli("migrate", ["migrate"])
        password_files = []
        for siret, _, password in DEMO_ACCOUNTS:
            path = self.workdir / f"password-{siret}"
            path.write_text(password, encoding="utf-8")
            path.chmod(0o600)
            password_files.append(path)
        self.api = self._start("api", ["serve", "--port", str(self.api_port)])
        setup = [
            self.run_cli(
                f"structures-add-{siret}",
                [
                    *("structures", "add", "--siret", siret, "--login", login),
                    *("--password-file", str(path), *SUPPLIER_ADDRESS),
                ],
            )
            for (siret, login, _), path in zip(DEMO_ACCOUNTS, password_files, strict=True)
        ]
        client = ["clients", "create", "--name", "chaos", "--scope", "invoices:write"]
        client += ["--scope", "invoices:read"]
        for siret in SUPPLIER_SIRETS:
            client += ["--supplier", siret]
        outputs = await asyncio.gather(*setup, self.run_cli("clients-create", client))
        self.api_key = outputs[-1].strip().splitlines()[-1].strip()
        await self._wait_http(self.emulator, f"{self.emulator_url}/_emulator/stats")
        # Workers start only once the structures exist (none is paused for a missing account).
        for _ in range(workers):
            self.start_worker()
        await self._wait_http(self.api, f"{self.api_url}/health/ready")

    def start_worker(self) -> Process:
        """Start one more worker, `--id wN`; returns it."""
        self._worker_count += 1
        worker_id = f"w{self._worker_count}"
        process = self._start(worker_id, ["worker", "--id", worker_id], worker=True)
        self.workers.append(process)
        return process

    def kill_worker(self, worker: Process, signum: int = signal.SIGKILL) -> None:
        """Signal one worker (SIGKILL by default); it leaves the live list."""
        worker.signal(signum)
        if worker in self.workers:
            self.workers.remove(worker)

    async def stop_workers(self, within: float = 15.0) -> dict[str, int | None]:
        """SIGTERM every live worker (they finish the items in hand); their exit statuses."""
        stopping = list(self.workers)
        for worker in stopping:
            worker.signal(signal.SIGTERM)
        codes = await self._wait_all(stopping, within)
        result = {w.name: code for w, code in zip(stopping, codes, strict=True)}
        self.workers.clear()
        return result

    async def close(self) -> None:
        """Stop every child (SIGTERM, then SIGKILL after a grace period) and drop the database."""
        try:
            running = [p for p in self.processes if p.alive]
            for process in running:
                process.signal(signal.SIGTERM)
            await self._wait_all(running, 10.0)
            for process in running:
                if process.alive:
                    process.signal(signal.SIGKILL)
            await self._wait_all(running, 5.0)
            self.workers.clear()
        finally:
            for log in self._logs:
                log.close()
            self._logs.clear()
            if self._observer is not None:
                await self._observer.dispose()
                self._observer = None
            await self._drop_database()

    # -- looking at the database ------------------------------------------------------------

    async def scalar(self, statement: str, **params: object) -> int:
        """One integer from a read-only query on the gateway's database (observation only)."""
        if self._observer is None:
            self._observer = create_async_engine(self.database_url, pool_size=1, max_overflow=0)
        async with self._observer.connect() as connection:
            value = (await connection.execute(text(statement), params)).scalar()
        return int(value or 0)

    async def leases_held(self, worker_id: str) -> int:
        """Delivery items `worker_id` has claimed and not yet recorded (its work in flight)."""
        return await self.scalar(
            "SELECT count(*) FROM outbox_item WHERE lease_owner = :owner AND state = 'pending'",
            owner=worker_id,
        )

    async def invoices_with_status(self, status: str) -> int:
        """How many invoices have this gateway status."""
        return await self.scalar("SELECT count(*) FROM invoice WHERE status = :s", s=status)

    # -- internals --------------------------------------------------------------------------

    def env(self, *, worker: bool = False) -> dict[str, str]:
        """The environment of a gateway process."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(_OWN_PREFIXES) and key not in _PROXY_VARIABLES
        }
        env |= {
            "PYTHONUNBUFFERED": "1",
            "NO_PROXY": "127.0.0.1,localhost",
            "DATABASE_URL": self.database_url,
            "DATABASE_MIGRATE_ON_START": "true",
            "CHORUS_TARGET": "emulator",
            "CHORUS_TOKEN_URL": f"{self.emulator_url}/api/oauth/token",
            "CHORUS_API_URL": self.emulator_url,
            "CHORUS_SECRETS_KEY": self._secrets_key,
            "CHORUS_READ_TIMEOUT_SECONDS": "1.5",
            "API_ONLINE_VALIDATION": "false",
            "LOG_LEVEL": "WARNING",
        }
        env |= self.config.gateway_env
        if worker:
            # One INFO line per outbox attempt (outcome, recorded or lease lost): the evidence.
            env |= {"LOG_LEVEL": "INFO"} | self.config.worker_env
        return env

    def _start(self, name: str, args: list[str], *, worker: bool = False) -> Process:
        log = (self.workdir / f"{name}.log").open("ab")
        self._logs.append(log)
        if name == "emulator":
            env = self.env() | {"EMULATOR_LIFECYCLE_MODE": "manual"} | self.config.emulator_env
        else:
            env = self.env(worker=worker)
        process = Process(name, _spawn(args, env, log), self.workdir / f"{name}.log")
        self.processes.append(process)
        return process

    async def run_cli(self, name: str, args: list[str], within: float = 60.0) -> str:
        """Run a one-shot `python -m app` command to completion; its output (raises on error)."""
        process = self._start(name, args)
        code = await process.wait(within)
        if code is None:
            process.signal(signal.SIGKILL)
            raise ClusterError(f"`{' '.join(args)}` did not finish in {within} s")
        if code != 0:
            raise ClusterError(f"`{' '.join(args)}` exited {code}:\n{process.log_tail()}")
        return process.log_path.read_text(encoding="utf-8", errors="replace")

    async def _wait_http(self, process: Process | None, url: str) -> None:
        assert process is not None
        deadline = time.monotonic() + self.config.startup_timeout_seconds
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if not process.alive:
                    raise ClusterError(
                        f"{process.name} exited {process.returncode}:\n{process.log_tail()}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(url)).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise ClusterError(f"{process.name} not ready at {url}:\n{process.log_tail()}")

    @staticmethod
    async def _wait_all(processes: list[Process], within: float) -> list[int | None]:
        deadline = time.monotonic() + within
        return [await p.wait(max(0.0, deadline - time.monotonic())) for p in processes]

    async def _create_database(self) -> None:
        if self.config.database == "sqlite":
            self.database_url = f"sqlite+aiosqlite:///{self.workdir / 'gateway.db'}"
            return
        name = f"chaos_{uuid.uuid4().hex[:12]}"
        await self._admin(f'CREATE DATABASE "{name}"')
        self.database_name = name
        admin = make_url(self.config.postgres_admin_url)
        self.database_url = admin.set(database=name).render_as_string(hide_password=False)

    async def _drop_database(self) -> None:
        if self.database_name is None:
            return
        await self._admin(f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)')
        self.database_name = None

    async def _admin(self, statement: str) -> None:
        engine = create_async_engine(self.config.postgres_admin_url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()
