"""Run the whole gateway as real processes on loopback: emulator, API, workers, one database.

Used by the chaos scenario (`harness.chaos`), hence by `tests/e2e/test_chaos.py` and
`scripts/chaos.py`. Every process is a child of this one, started with `python -m app ...` from
the repository root and configured only through environment variables; each writes its output to
a log file in the work directory. Every wait is bounded. `Cluster.close()` stops (then kills)
every child it started, by pid, and drops the database it created.

    async with Cluster(ClusterConfig(database="postgresql", workdir=tmp)) as cluster:
        await cluster.start(workers=2)
        ...  # cluster.api_url, cluster.emulator_url, cluster.api_key
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from harness.databases import Backend, create_postgres_database, drop_postgres_database
from harness.processes import (
    LOOPBACK,
    REPO_ROOT,
    HarnessError,
    Proc,
    app_argv,
    free_port,
    python_env,
    wait_http_async,
)
from harness.samples import OTHER_SUPPLIER_SIRET, SUPPLIER_SIRET

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)

# The emulator's two demo suppliers and their technical accounts (app/emulator/data).
DEMO_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    (SUPPLIER_SIRET, f"TECH_1_{SUPPLIER_SIRET}@cpro.fr", "emulator-demo-1"),
    (OTHER_SUPPLIER_SIRET, f"TECH_1_{OTHER_SUPPLIER_SIRET}@cpro.fr", "emulator-demo-2"),
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
LOG_TAIL_LINES = 40


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
        self.emulator: Proc | None = None
        self.api: Proc | None = None
        self.workers: list[Proc] = []  # the live ones, in start order
        self.processes: list[Proc] = []  # every child ever started
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

    def start_worker(self) -> Proc:
        """Start one more worker, `--id wN`; returns it."""
        self._worker_count += 1
        worker_id = f"w{self._worker_count}"
        process = self._start(worker_id, ["worker", "--id", worker_id], worker=True)
        self.workers.append(process)
        return process

    def kill_worker(self, worker: Proc, signum: int = signal.SIGKILL) -> None:
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
            for process in self.processes:
                process.log_file.close()
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
        env = python_env(
            {
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
        )
        env |= self.config.gateway_env
        if worker:
            # One INFO line per outbox attempt (outcome, recorded or lease lost): the evidence.
            env |= {"LOG_LEVEL": "INFO"} | self.config.worker_env
        return env

    def _start(self, name: str, args: list[str], *, worker: bool = False) -> Proc:
        if name == "emulator":
            env = self.env() | {"EMULATOR_LIFECYCLE_MODE": "manual"} | self.config.emulator_env
        else:
            env = self.env(worker=worker)
        process = Proc.spawn(name, app_argv(*args), env, self.workdir, cwd=REPO_ROOT)
        self.processes.append(process)
        return process

    async def run_cli(self, name: str, args: list[str], within: float = 60.0) -> str:
        """Run a one-shot `python -m app` command to completion; its output (raises on error)."""
        process = self._start(name, args)
        code = await process.wait(within)
        if code is None:
            process.signal(signal.SIGKILL)
            raise HarnessError(f"`{' '.join(args)}` did not finish in {within} s")
        if code != 0:
            tail = process.log_tail(LOG_TAIL_LINES)
            raise HarnessError(f"`{' '.join(args)}` exited {code}:\n{tail}")
        return process.log_path.read_text(encoding="utf-8", errors="replace")

    async def _wait_http(self, process: Proc | None, url: str) -> None:
        assert process is not None
        within = self.config.startup_timeout_seconds
        await wait_http_async(url, process, within, tail=LOG_TAIL_LINES)

    @staticmethod
    async def _wait_all(processes: list[Proc], within: float) -> list[int | None]:
        deadline = time.monotonic() + within
        return [await p.wait(max(0.0, deadline - time.monotonic())) for p in processes]

    def _admin_dsn(self) -> str:
        """The admin URL as asyncpg takes it (libpq form, no SQLAlchemy driver)."""
        admin = make_url(self.config.postgres_admin_url).set(drivername="postgresql")
        return admin.render_as_string(hide_password=False)

    async def _create_database(self) -> None:
        if self.config.database == "sqlite":
            self.database_url = f"sqlite+aiosqlite:///{self.workdir / 'gateway.db'}"
            return
        name, _ = await create_postgres_database(self._admin_dsn(), "chaos")
        self.database_name = name
        admin = make_url(self.config.postgres_admin_url)
        self.database_url = admin.set(database=name).render_as_string(hide_password=False)

    async def _drop_database(self) -> None:
        if self.database_name is None:
            return
        await drop_postgres_database(self._admin_dsn(), self.database_name)
        self.database_name = None
