"""What every benchmark shares: processes, databases, settings, the invoice, /proc readings.

Every server runs as its own process (`python -m app ...`, or the bare app), started from a
temporary work directory with an explicit environment (a developer's `.env` is never read),
stopped by pid (SIGTERM, then SIGKILL). Every wait is bounded. PostgreSQL databases are created
per run and dropped at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import datetime as dt
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import asyncpg  # type: ignore[import-untyped]
import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
# libpq-style URL of a PostgreSQL database we may connect to in order to CREATE/DROP others.
POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
SUPPLIER_SIRET = "41234567010000"  # the emulator's first demo supplier
OTHER_SUPPLIER_SIRET = "52345678810009"  # the second
DEMO_VAT_NUMBER = "FR96412345670"
DEMO_LOGIN = "TECH_1_41234567010000@cpro.fr"
DEMO_PASSWORD = "emulator-demo-1"  # noqa: S105 - the emulator's public demo password
NUMBER_MARK = "@@NUMBER@@"

Backend = Literal["sqlite", "postgresql"]

# Settings every gateway process of a benchmark gets (the README lists them).
BENCH_SETTINGS: dict[str, str] = {
    "API_ONLINE_VALIDATION": "false",
    "LOG_LEVEL": "WARNING",
    "LOG_FORMAT": "json",
    "DATABASE_MIGRATE_ON_START": "false",  # migrated once, before anything starts
    "CHORUS_TARGET": "emulator",
}
_OWN_PREFIXES = ("DATABASE_", "API_", "CHORUS_", "OUTBOX_", "LOG_", "EMULATOR_")
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


class BenchError(RuntimeError):
    """A process did not start or answer as expected (the message has its log tail)."""


def log(message: str) -> None:
    """Progress on stderr, so stdout has only the figures."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


# -- processes ------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the benchmark dies (Linux prctl; best effort)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def clean_environ() -> dict[str, str]:
    """This process's environment without the gateway's own settings or proxies."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_OWN_PREFIXES) and key not in _PROXY_VARIABLES
    }


def python_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of one of our Python children (`bench` importable from anywhere)."""
    env = clean_environ()
    pythonpath = [str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])]
    env |= {
        "PYTHONPATH": os.pathsep.join(pythonpath),
        "PYTHONUNBUFFERED": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    return env | dict(extra)


@dataclass
class Proc:
    """One child process (its own session) and its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    @classmethod
    def spawn(cls, name: str, argv: Sequence[str], env: Mapping[str, str], workdir: Path) -> Proc:
        """Start `argv` in `workdir`, output to `workdir/<name>.log`; returns at once."""
        log_path = workdir / f"{name}.log"
        log_file = log_path.open("ab")
        popen = subprocess.Popen(  # noqa: S603 - argv built here: our interpreter, wrk or py-spy
            list(argv),
            cwd=workdir,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        return cls(name, popen, log_path, log_file)

    @property
    def pid(self) -> int:
        """The child's pid."""
        return self.popen.pid

    @property
    def alive(self) -> bool:
        """Whether it still runs."""
        return self.popen.poll() is None

    def tree(self) -> list[int]:
        """Its pid and its descendants' (uvicorn `--workers N` forks N children)."""
        return [self.pid, *descendants(self.pid)]

    def stop(self, within: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after `within` seconds; its exit status."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(within)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        self.log_file.close()
        return self.popen.returncode

    def log_tail(self, lines: int = 30) -> str:
        """The end of its output, for error messages."""
        try:
            content = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(content.splitlines()[-lines:])


def descendants(pid: int) -> list[int]:
    """Every live descendant of `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set size (VmHWM), in MB; None if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores (/proc/stat)."""
    first = Path("/proc/stat").read_text(encoding="ascii").splitlines()[0].split()
    ticks = [int(value) for value in first[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


def background_busy(seconds: float = 2.0) -> float:
    """How busy the machine is before a benchmark starts, in % of all cores.

    Other work on the machine (a test suite, another benchmark) takes cores from the servers
    being measured; every benchmark prints this so its figures can be judged.
    """
    busy0, total0 = machine_busy_seconds()
    time.sleep(seconds)
    busy1, total1 = machine_busy_seconds()
    return 100.0 * (busy1 - busy0) / max(total1 - total0, 1e-9)


def cpu_by_pid(pids: Sequence[int]) -> dict[int, float]:
    """User + system CPU seconds so far of each of these processes (those still alive)."""
    found: dict[int, float] = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def postgres_pids() -> list[int]:
    """The local PostgreSQL server's processes (postmaster, backends, background workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text(encoding="ascii").strip() in {
                    "postgres",
                    "postmaster",
                }:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def with_descendants(pids: Sequence[int]) -> list[int]:
    """`pids` and every process they started (a worker's schematron pool, say), from /proc."""
    found: list[int] = []
    pending = list(pids)
    while pending:
        pid = pending.pop()
        found.append(pid)
        for children in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                pending += [int(child) for child in children.read_text().split()]
            except OSError:
                continue  # the process ended meanwhile
    return found


@dataclass
class CpuMeter:
    """CPU used by some processes, and by the whole machine, between start() and stop().

    Processes are those `pids()` returns at either reading: one that started in between counts
    from zero, one that ended in between is lost (its last seconds are not counted).
    """

    pids: Callable[[], Sequence[int]]
    wall: float = 0.0
    process_cpu: float = 0.0
    machine_busy: float = 0.0
    machine_total: float = 0.0
    _started: tuple[float, float, float] = (0.0, 0.0, 0.0)
    _cpu0: dict[int, float] = field(default_factory=dict)

    def start(self) -> None:
        """Take the first reading."""
        busy, total = machine_busy_seconds()
        self._cpu0 = cpu_by_pid(self.pids())
        self._started = (time.monotonic(), busy, total)

    def stop(self) -> None:
        """Take the second reading."""
        cpu1 = cpu_by_pid(self.pids())
        busy, total = machine_busy_seconds()
        wall0, busy0, total0 = self._started
        self.wall = time.monotonic() - wall0
        self.process_cpu = sum(value - self._cpu0.get(pid, 0.0) for pid, value in cpu1.items())
        self.machine_busy, self.machine_total = busy - busy0, total - total0

    @property
    def process_cores(self) -> float:
        """Cores' worth of CPU the processes used on average."""
        return self.process_cpu / self.wall if self.wall else 0.0

    @property
    def machine_percent(self) -> float:
        """How busy the whole machine was (all cores), in %."""
        return 100.0 * self.machine_busy / self.machine_total if self.machine_total else 0.0


def wait_http(url: str, proc: Proc, within: float = 60.0) -> None:
    """Wait until `url` answers 200 (raises if `proc` dies or time runs out)."""
    deadline = time.monotonic() + within
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if not proc.alive:
                raise BenchError(f"{proc.name} exited {proc.popen.returncode}:\n{proc.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if client.get(url).status_code == 200:
                    return
            time.sleep(0.1)
    raise BenchError(f"{proc.name} not ready at {url}:\n{proc.log_tail()}")


def run_app_cli(args: Sequence[str], env: Mapping[str, str], workdir: Path) -> str:
    """Run `python -m app <args>` to completion (60 s at most); its output."""
    result = subprocess.run(  # noqa: S603 - fixed argv: this interpreter running our own app
        [sys.executable, "-m", "app", *args],
        cwd=workdir,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"`app {' '.join(args)}` exited {result.returncode}:\n{result.stderr}")
    return result.stdout


# -- databases ------------------------------------------------------------------------------


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@dataclass
class Database:
    """One benchmark database: a fresh PostgreSQL database, or a SQLite file in the workdir."""

    backend: Backend
    app_url: str  # for the gateway (SQLAlchemy URL)
    dsn: str | None = None  # PostgreSQL only: for asyncpg
    name: str | None = None
    sqlite_path: Path | None = None

    @classmethod
    def create(cls, backend: Backend, workdir: Path) -> Database:
        """A new, empty database."""
        if backend == "sqlite":
            path = workdir / "gateway.db"
            return cls(backend, f"sqlite+aiosqlite:///{path}", sqlite_path=path)
        name = f"bench_{uuid.uuid4().hex[:12]}"
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
        dsn = f"{base}/{name}"
        app_url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
        return cls(backend, app_url, dsn=dsn, name=name)

    def drop(self) -> None:
        """Drop it (PostgreSQL); the SQLite file goes with the work directory."""
        if self.name is not None:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self.name = None

    def pg_stats(self) -> dict[str, float]:
        """PostgreSQL's cumulative counters for this database (empty on SQLite).

        Deltas per invoice tell the database work of a request: transactions, rows, and
        `sessions`, the connections opened (a pool that keeps reconnecting shows here).
        """
        if self.dsn is None:
            return {}
        row = self.fetchval(
            "SELECT json_build_object('xact_commit', xact_commit, 'xact_rollback', xact_rollback,"
            " 'tup_inserted', tup_inserted, 'tup_updated', tup_updated,"
            " 'tup_returned', tup_returned, 'tup_fetched', tup_fetched,"
            " 'sessions', sessions)::text"
            " FROM pg_stat_database WHERE datname = current_database()"
        )
        values: dict[str, float] = json.loads(row)
        return values

    def analyze(self) -> None:
        """Refresh the planner's statistics (what autovacuum does within a minute or so)."""
        self.fetchval("ANALYZE")

    def fetchval(self, query: str, *args: object) -> Any:
        """One value from a query on this database."""
        return asyncio.run(self._fetchval(query, *args))

    async def _fetchval(self, query: str, *args: object) -> Any:
        if self.dsn is not None:
            connection = await asyncpg.connect(self.dsn)
            try:
                return await connection.fetchval(query, *args)
            finally:
                await connection.close()
        import aiosqlite

        assert self.sqlite_path is not None
        async with aiosqlite.connect(self.sqlite_path, timeout=30) as sqlite:
            cursor = await sqlite.execute(query.replace("$1", "?"), args)
            row = await cursor.fetchone()
            await sqlite.commit()
            return None if row is None else row[0]


# -- the gateway ----------------------------------------------------------------------------


@dataclass
class Gateway:
    """Settings and one-shot commands for gateway processes over one database."""

    database: Database
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    secrets_key: str = ""

    def __post_init__(self) -> None:
        from app.crypto import new_key  # what `gateway structures new-key` prints

        self.secrets_key = self.secrets_key or new_key()

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment of a gateway process."""
        return python_env(
            BENCH_SETTINGS
            | {"DATABASE_URL": self.database.app_url, "CHORUS_SECRETS_KEY": self.secrets_key}
            | self.extra_env
            | overrides
        )

    def migrate(self) -> None:
        """`gateway migrate`."""
        run_app_cli(["migrate"], self.env(), self.workdir)

    def create_client(
        self, name: str = "bench", suppliers: Sequence[str] = (SUPPLIER_SIRET,)
    ) -> str:
        """`gateway clients create` with read and write scopes; the API key."""
        args = ["clients", "create", "--name", name]
        for siret in suppliers:
            args += ["--supplier", siret]
        args += ["--scope", "invoices:write", "--scope", "invoices:read"]
        output = run_app_cli(args, self.env(), self.workdir)
        return output.strip().splitlines()[-1].strip()

    def add_structure(self) -> None:
        """`gateway structures add` for the emulator's first demo supplier."""
        password_file = self.workdir / "password"
        password_file.write_text(DEMO_PASSWORD, encoding="utf-8")
        password_file.chmod(0o600)
        args = ["structures", "add", "--siret", SUPPLIER_SIRET, "--login", DEMO_LOGIN]
        # The address and VAT number EN 16931 documents (the default channel) need.
        args += ["--address-line1", "12 rue des Fournisseurs", "--postal-code", "69002"]
        args += ["--city", "Lyon", "--country-code", "FR", "--vat-number", DEMO_VAT_NUMBER]
        run_app_cli([*args, "--password-file", str(password_file)], self.env(), self.workdir)

    def serve(self, port: int, workers: int, name: str = "api") -> Proc:
        """`gateway serve --port P --workers N`, ready to answer."""
        argv = [sys.executable, "-m", "app", "serve", "--port", str(port)]
        proc = Proc.spawn(name, [*argv, "--workers", str(workers)], self.env(), self.workdir)
        wait_http(f"http://{LOOPBACK}:{port}/health/ready", proc)
        return proc


@contextlib.contextmanager
def workdir(keep: bool = False) -> Iterator[Path]:
    """A temporary work directory (logs, SQLite file, load scripts)."""
    path = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    try:
        yield path
    finally:
        if keep:
            log(f"work directory kept: {path}")
        else:
            for child in sorted(path.rglob("*"), reverse=True):
                if child.is_dir():
                    child.rmdir()
                else:
                    child.unlink()
            path.rmdir()


# -- the invoice ----------------------------------------------------------------------------


def invoice_body_parts(today: dt.date | None = None) -> tuple[str, str]:
    """The benchmark's invoice (`ten_line_invoice()`) as compact JSON, split at its number.

    Dated today (due in 30 days) so the issue date is never in the future; the number goes
    between the two parts.
    """
    from tests.builders import ten_line_invoice

    today = today or dt.datetime.now(dt.UTC).date()
    payload = ten_line_invoice(
        invoice_number=NUMBER_MARK,
        issue_date=today.isoformat(),
        due_date=(today + dt.timedelta(days=30)).isoformat(),
    )
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    prefix, mark, suffix = body.partition(NUMBER_MARK)
    if not mark:
        raise BenchError("the invoice number mark is missing from the body")
    return prefix, suffix


# -- reporting ------------------------------------------------------------------------------


def machine_summary() -> dict[str, object]:
    """What the figures were measured on."""
    model = ""
    with contextlib.suppress(OSError):
        for line in (
            Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace").splitlines()
        ):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "revision": _revision(),
    }


def _revision() -> str:
    """The gateway's commit, marked `+dirty` when app/ or migrations/ have local changes."""
    git = shutil.which("git")
    if git is None:
        return "unknown"
    try:
        head = subprocess.run(  # noqa: S603 - read-only git query on our own repository
            [git, "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(  # noqa: S603 - read-only git query on our own repository
            [git, "-C", str(REPO_ROOT), "status", "--porcelain", "--", "app", "migrations"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A Markdown table on stdout."""
    cells = [[str(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def fmt(value: float | None, digits: int = 1) -> str:
    """A number for a table ("-" when unknown)."""
    return "-" if value is None else f"{value:,.{digits}f}"


def percentile(sorted_values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), math.ceil(share * len(sorted_values))))
    return sorted_values[rank - 1]
