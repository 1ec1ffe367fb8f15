"""What every benchmark shares: the gateway's settings and commands, the invoice, /proc readings.

Processes and databases come from `harness` (shared with the end-to-end tests and the chaos
script): every server runs as its own process (`python -m app ...`, or the bare app), started
from a temporary work directory with an explicit environment (a developer's `.env` is never
read), stopped by pid. Every wait is bounded. PostgreSQL databases are created per run and
dropped at the end.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness.cluster import DEMO_ACCOUNTS
from harness.databases import Backend, Database
from harness.processes import (
    LOOPBACK,
    REPO_ROOT,
    HarnessError,
    Proc,
    app_argv,
    cpu_by_pid,
    python_env,
    run_app_cli,
    wait_http,
)
from harness.samples import SUPPLIER_VAT_NUMBER, ten_line_invoice

# The emulator's two demo suppliers; the first one's technical account.
(SUPPLIER_SIRET, DEMO_LOGIN, DEMO_PASSWORD), (OTHER_SUPPLIER_SIRET, _, _) = DEMO_ACCOUNTS
NUMBER_MARK = "@@NUMBER@@"

# Settings every gateway process of a benchmark gets (the README lists them).
BENCH_SETTINGS: dict[str, str] = {
    "API_ONLINE_VALIDATION": "false",
    "LOG_LEVEL": "WARNING",
    "LOG_FORMAT": "json",
    "DATABASE_MIGRATE_ON_START": "false",  # migrated once, before anything starts
    "CHORUS_TARGET": "emulator",
}


class BenchError(HarnessError):
    """A benchmark could not run as planned (a tool missing, an unexpected answer)."""


def log(message: str) -> None:
    """Progress on stderr, so stdout has only the figures."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


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
        args += ["--city", "Lyon", "--country-code", "FR", "--vat-number", SUPPLIER_VAT_NUMBER]
        run_app_cli([*args, "--password-file", str(password_file)], self.env(), self.workdir)

    def serve(self, port: int, workers: int, name: str = "api") -> Proc:
        """`gateway serve --port P --workers N`, ready to answer."""
        argv = app_argv("serve", "--port", str(port), "--workers", str(workers))
        proc = Proc.spawn(name, argv, self.env(), self.workdir)
        wait_http(f"http://{LOOPBACK}:{port}/health/ready", proc)
        return proc

    @contextlib.contextmanager
    def serving(self, port: int, workers: int) -> Iterator[Proc]:
        """`serve` for the time of a `with` block, stopped at its end."""
        api = self.serve(port, workers)
        try:
            yield api
        finally:
            api.stop()


@contextlib.contextmanager
def ready_gateway(backend: Backend, root: Path) -> Iterator[tuple[Gateway, str]]:
    """A gateway over a fresh migrated database, with the first demo supplier's structure, and
    an API key for that supplier; the database is dropped at the end of the `with` block."""
    database = Database.create(backend, root)
    try:
        gateway = Gateway(database, root)
        gateway.migrate()
        key = gateway.create_client()
        # Invoices for a supplier without a registered structure are refused (422).
        gateway.add_structure()
        yield gateway, key
    finally:
        database.drop()


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


# -- load -----------------------------------------------------------------------------------


@dataclass
class TimedLoad:
    """What the gateway accepted in one timed load, and the API's CPU for it."""

    accepted: int
    seconds: float
    api_cpu_ms: float  # per accepted invoice

    @property
    def rate(self) -> float:
        """Accepted invoices per second."""
        return self.accepted / self.seconds if self.seconds else 0.0


def post_concurrently(
    port: int,
    api_pid: int,
    bodies: Sequence[bytes],
    post: Callable[[httpx.Client, bytes], int],
    *,
    headers: dict[str, str],
    connections: int,
    timeout: float,
) -> tuple[int, float, float]:
    """`post` every body over `connections` kept connections, from threads of this process.

    Returns what the `post` calls counted (accepted invoices), the wall seconds, and the CPU
    seconds the API process used meanwhile, with its children (the conformance pool).
    """
    clients = [
        httpx.Client(base_url=f"http://{LOOPBACK}:{port}", headers=headers, timeout=timeout)
        for _ in range(connections)
    ]
    try:
        with ThreadPoolExecutor(connections) as pool:
            cpu0 = _tree_cpu_seconds(api_pid)
            started = time.monotonic()
            futures = [
                pool.submit(post, clients[i % connections], body) for i, body in enumerate(bodies)
            ]
            accepted = sum(future.result() for future in futures)
            seconds = time.monotonic() - started
            cpu = _tree_cpu_seconds(api_pid) - cpu0
    finally:
        for client in clients:
            client.close()
    return accepted, seconds, cpu


def _tree_cpu_seconds(pid: int) -> float:
    return sum(cpu_by_pid(with_descendants([pid])).values())


def run_openloop(
    port: int,
    key: str,
    body: tuple[str, str],
    wd: Path,
    options: Sequence[str],
    *,
    timeout: float,
    failure: str,
) -> dict[str, Any]:
    """`bench.openloop` (another process) posting `body` (`invoice_body_parts()`) to the API on
    `port` with these options; its JSON summary. `failure` names the step in the error."""
    body_file = wd / "body.json"
    body_file.write_text(json.dumps({"prefix": body[0], "suffix": body[1]}), encoding="utf-8")
    argv = [sys.executable, "-m", "bench.openloop", "--port", str(port), "--key", key]
    argv += ["--body-file", str(body_file), *options]
    completed = subprocess.run(  # noqa: S603 - fixed argv: our interpreter, our generator
        argv,
        env=python_env({}),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise BenchError(f"{failure} failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def py_spy_record(pid: int, seconds: float, output: Path) -> list[str]:
    """The argv of `py-spy record` on `pid` for `seconds`, raw samples into `output`."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        raise BenchError("py-spy is not installed (.venv/bin/pip install py-spy)")
    argv = [py_spy, "record", "--pid", str(pid), "--rate", "200", "--format", "raw"]
    return [*argv, "--full-filenames", "--duration", str(int(seconds)), "-o", str(output)]


# -- reporting ------------------------------------------------------------------------------


def print_machine(background: float) -> None:
    """The long reports' first line: the machine, the gateway's revision, the load before."""
    machine = machine_summary()
    print(
        f"Machine: {machine['cpu_count']} cores (os.cpu_count()), {machine['cpu_model']}, "
        f"Python {machine['python']}, gateway {machine['revision']}; "
        f"machine busy before the run: {background:.0f} %."
    )


def machine_line(machine: dict[str, object], busy: float) -> str:
    """The short reports' start: `machine: N cores, CPU, commit C, busy before start B %`."""
    return (
        f"machine: {machine['cpu_count']} cores, {machine['cpu_model']}, commit "
        f"{machine['revision']}, busy before start {busy:.0f} %"
    )


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
