"""Drain benchmark: a backlog of N queued invoices delivered to the emulator by 1, then 2 workers.

    .venv/bin/python -m bench.drain                         # N=3000, 1 and 2 workers, PostgreSQL
    .venv/bin/python -m bench.drain -n 5000 --workers 2 --db postgresql
    .venv/bin/python -m bench.drain --channel saisie          # soumettre instead of a CII flux

For each worker count, on a fresh database and a fresh emulator (manual lifecycle, faults off):
1. the API (`gateway serve`) takes N invoices (`bench.openloop --count N`, closed loop) with no
   worker running, then stops;
2. W workers (`gateway worker --id wK`) start; the clock runs until no invoice is `queued`
   (polled every 0.1 s on one kept connection);
3. figures: invoices/s from the workers' start (start-up included) and between the first and
   the last delivery (steady state), the emulator's ground truth (received exactly N, no
   duplicate), peak RSS and CPU of the workers and of the emulator.
Worker settings are the shipped defaults (OUTBOX_BATCH_SIZE=16...) except the PISTE throttle,
`CHORUS_RATE_PER_SECOND` (default 20/s per process, a politeness pace towards PISTE, not a
capacity of the gateway), raised by default to measure the gateway itself: `--chorus-rate`.
`--channel` (CHORUS_DELIVERY_FORMAT, default cii) picks the way invoices go: on the flux channels
each delivery writes the document, runs the full EN 16931 schematron, deposits the flux and
follows its report (the emulator integrates a flux `--flux-seconds` after its deposit).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx

from bench.common import (
    BenchError,
    CpuMeter,
    Gateway,
    background_busy,
    fmt,
    invoice_body_parts,
    log,
    peak_rss_mb,
    postgres_pids,
    print_machine,
    print_table,
    py_spy_record,
    run_openloop,
    with_descendants,
    workdir,
)
from bench.profile import print_summary, summarize
from harness.databases import Database
from harness.processes import LOOPBACK, Proc, free_port, python_env, wait_http

TARGET_RATE_2_WORKERS = 300.0
TARGET_RSS_MB = 200.0


@dataclass
class DrainCase:
    """The figures of one worker count."""

    workers: int
    backlog: int
    posted: int = 0
    post_rate: float = 0.0
    wall_seconds: float = 0.0
    steady_seconds: float = 0.0
    delivered: int = 0
    failed: int = 0
    emulator_received: int = 0
    emulator_duplicates: int = 0
    worker_rss_mb: list[float] = field(default_factory=list)
    emulator_rss_mb: float | None = None
    worker_cores: float = 0.0
    emulator_cores: float = 0.0
    postgres_cores: float = 0.0
    machine_percent: float = 0.0
    db_per_invoice: dict[str, float] = field(default_factory=dict)
    profile: str | None = None
    # Worker CPU seconds from when every worker is in its loop (heartbeat) to the end.
    running_worker_cpu: float = 0.0

    @property
    def wall_rate(self) -> float:
        """Invoices per second from the workers' start to the last delivery."""
        return self.delivered / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def cpu_ms_per_invoice(self) -> float:
        """Worker CPU per delivered invoice, milliseconds (all workers together)."""
        if not self.delivered:
            return 0.0
        return self.worker_cores * self.wall_seconds * 1000 / self.delivered

    @property
    def running_cpu_ms_per_invoice(self) -> float:
        """Worker CPU per invoice once every worker is running (its imports, settings and
        first connection left out), milliseconds."""
        if not self.delivered:
            return 0.0
        return self.running_worker_cpu * 1000 / self.delivered

    @property
    def steady_rate(self) -> float:
        """Invoices per second between the first and the last delivery."""
        return (self.delivered - 1) / self.steady_seconds if self.steady_seconds else 0.0


def _post_backlog(port: int, key: str, count: int, wd: Path) -> dict[str, Any]:
    """N invoices through the API, 16 at a time, by the load generator process."""
    options = ["--count", str(count), "--concurrency", "16", "--tag", "DR", "--idempotency-keys"]
    return run_openloop(
        port,
        key,
        invoice_body_parts(),
        wd,
        options,
        timeout=60 + count,
        failure="posting the backlog",
    )


_ANY_QUEUED = "SELECT EXISTS (SELECT 1 FROM invoice WHERE status = 'queued')"
_RUNNING = "SELECT count(*) FROM worker_heartbeat"


async def _wait_drained(
    database: Database,
    workers: list[Proc],
    deadline: float,
    running: Callable[[], None],
) -> bool:
    """Poll every 0.1 s, on one connection, until no invoice is queued; False at the deadline.
    `running` is called once, as soon as every worker has written its first heartbeat (it is
    in its loop: imported, configured, connected); until then the poll is every 0.01 s.

    One cheap query (an index probe) on a kept connection: the watcher must not load the
    database it is timing.
    """
    all_running = False

    def seen(count: int) -> None:
        nonlocal all_running
        if count >= len(workers):
            all_running = True
            running()

    if database.dsn is not None:
        connection = await asyncpg.connect(database.dsn)
        try:
            while time.monotonic() < deadline:
                _check_alive(workers)
                if not all_running:
                    seen(int(await connection.fetchval(_RUNNING)))
                if not await connection.fetchval(_ANY_QUEUED):
                    return True
                await asyncio.sleep(0.1 if all_running else 0.01)
        finally:
            await connection.close()
        return False
    import aiosqlite

    assert database.sqlite_path is not None
    async with aiosqlite.connect(database.sqlite_path, timeout=30) as sqlite:
        while time.monotonic() < deadline:
            _check_alive(workers)
            if not all_running:
                cursor = await sqlite.execute(_RUNNING)
                count = await cursor.fetchone()
                seen(int(count[0]) if count is not None else 0)
            cursor = await sqlite.execute(_ANY_QUEUED)
            row = await cursor.fetchone()
            await sqlite.commit()  # end the read transaction: see the workers' next commits
            if row is not None and not row[0]:
                return True
            await asyncio.sleep(0.1 if all_running else 0.01)
    return False


def _check_alive(workers: list[Proc]) -> None:
    dead = [p for p in workers if not p.alive]
    if dead:
        raise BenchError(f"{dead[0].name} exited:\n{dead[0].log_tail()}")


def _start_profile(worker: Proc, workers: int, args: argparse.Namespace, wd: Path) -> Proc:
    """py-spy on the first worker for `--profile-seconds`, from now."""
    out = Path(args.profile).resolve()
    out.mkdir(parents=True, exist_ok=True)
    argv = py_spy_record(worker.pid, args.profile_seconds, out / f"drain-w{workers}.txt")
    time.sleep(0.5)  # let the interpreter start before attaching
    return Proc.spawn(f"py-spy-w{workers}", argv, python_env({}), wd)


def _finish_profile(spy: Proc, workers: int, args: argparse.Namespace) -> str | None:
    """Wait (bounded) for py-spy to write its profile; its path, or None."""
    deadline = time.monotonic() + args.profile_seconds + 30
    while spy.alive and time.monotonic() < deadline:
        time.sleep(0.2)
    spy.stop()
    raw = Path(args.profile).resolve() / f"drain-w{workers}.txt"
    return str(raw) if raw.exists() else None


def _as_datetime(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def run_case(workers: int, args: argparse.Namespace, root: Path) -> DrainCase:
    """One worker count on a fresh database and emulator."""
    case = DrainCase(workers, args.n)
    wd = root / f"drain-w{workers}"
    wd.mkdir()
    emulator_port = free_port()
    emulator_url = f"http://{LOOPBACK}:{emulator_port}"
    emulator_env = python_env(
        {
            "EMULATOR_LIFECYCLE_MODE": "manual",
            "EMULATOR_FLUX_PROCESSING_SECONDS": f"{args.flux_seconds:g}",
            "LOG_LEVEL": "WARNING",
            "NO_PROXY": LOOPBACK,
        }
    )
    emulator = Proc.spawn(
        "emulator",
        [sys.executable, "-m", "app", "emulator", "--port", str(emulator_port)],
        emulator_env,
        wd,
    )
    database = Database.create(args.db, wd)
    procs: list[Proc] = [emulator]
    try:
        wait_http(f"{emulator_url}/_emulator/stats", emulator)
        gateway = Gateway(
            database,
            wd,
            extra_env={
                "CHORUS_TOKEN_URL": f"{emulator_url}/api/oauth/token",
                "CHORUS_API_URL": emulator_url,
                "CHORUS_RATE_PER_SECOND": f"{args.chorus_rate:g}",
                "CHORUS_RATE_BURST": str(args.chorus_burst),
                "CHORUS_DELIVERY_FORMAT": args.channel,
                "CHORUS_FLUX_POLL_FIRST_SECONDS": f"{args.flux_seconds:g}",
                "CHORUS_FLUX_POLL_MAX_SECONDS": f"{max(1.0, args.flux_seconds * 2):g}",
            }
            | (
                {"CHORUS_FLUX_SCHEMATRON_SHARE": f"{args.schematron_share:g}"}
                if args.schematron_share is not None
                else {}
            ),
        )
        gateway.migrate()
        gateway.add_structure()
        key = gateway.create_client()
        api_port = free_port()
        api = gateway.serve(api_port, 1)
        procs.append(api)
        log(f"w{workers}: posting {args.n} invoices with no worker running")
        posted = _post_backlog(api_port, key, args.n, wd)
        api.stop()
        case.posted = int(posted["statuses"].get("201", 0))
        case.post_rate = float(posted["achieved_rate"])
        queued = int(database.fetchval("SELECT count(*) FROM invoice WHERE status = 'queued'"))
        if case.posted != args.n or queued != args.n:
            raise BenchError(f"backlog: {case.posted} accepted, {queued} queued, {args.n} wanted")

        log(f"w{workers}: starting {workers} worker(s)")
        started = time.monotonic()
        worker_procs = [
            Proc.spawn(
                f"worker{i}",
                [sys.executable, "-m", "app", "worker", "--id", f"w{i}"],
                gateway.env(),
                wd,
            )
            for i in range(1, workers + 1)
        ]
        procs += worker_procs
        spy = _start_profile(worker_procs[0], workers, args, wd) if args.profile else None
        # With their schematron pool processes: a flux delivery's checking runs there.
        workers_meter = CpuMeter(lambda: with_descendants([p.pid for p in worker_procs]))
        emulator_meter = CpuMeter(lambda: [emulator.pid])
        postgres_meter = CpuMeter(postgres_pids)
        stats_before = database.pg_stats()
        running_meter = CpuMeter(lambda: with_descendants([p.pid for p in worker_procs]))
        workers_meter.start()
        emulator_meter.start()
        postgres_meter.start()
        drained = asyncio.run(
            _wait_drained(database, worker_procs, started + args.timeout, running_meter.start)
        )
        case.wall_seconds = time.monotonic() - started
        workers_meter.stop()
        running_meter.stop()
        case.running_worker_cpu = running_meter.process_cpu
        emulator_meter.stop()
        postgres_meter.stop()
        stats_after = database.pg_stats()
        if not drained:
            raise BenchError(f"invoices still queued after {args.timeout:g} s")
        case.worker_cores = workers_meter.process_cores
        case.emulator_cores = emulator_meter.process_cores
        case.postgres_cores = postgres_meter.process_cores
        case.machine_percent = workers_meter.machine_percent
        case.worker_rss_mb = [r for p in worker_procs if (r := peak_rss_mb(p.pid)) is not None]
        case.emulator_rss_mb = peak_rss_mb(emulator.pid)
        if spy is not None:
            case.profile = _finish_profile(spy, workers, args)
        for proc in worker_procs:
            proc.stop()
        case.delivered = int(
            database.fetchval("SELECT count(*) FROM invoice WHERE status = 'submitted'")
        )
        case.failed = case.posted - case.delivered
        if stats_before and case.delivered:
            case.db_per_invoice = {
                name: (stats_after[name] - stats_before[name]) / case.delivered
                for name in stats_before
            }
        first = database.fetchval("SELECT min(updated_at) FROM invoice WHERE status = 'submitted'")
        last = database.fetchval("SELECT max(updated_at) FROM invoice WHERE status = 'submitted'")
        if first is not None and last is not None:
            case.steady_seconds = (_as_datetime(last) - _as_datetime(first)).total_seconds()
        with httpx.Client(timeout=30, trust_env=False) as client:
            truth = client.get(f"{emulator_url}/_emulator/invoices").json()
        case.emulator_received = int(truth["total"])
        case.emulator_duplicates = int(truth["duplicates_refused"])
    finally:
        for proc in reversed(procs):
            proc.stop()
        database.drop()
    return case


def report(cases: list[DrainCase], args: argparse.Namespace, background: float) -> None:
    """The figures as Markdown on stdout."""
    print("\n## Drain benchmark\n")
    print_machine(background)
    print(
        f"Backlog: {args.n} ten-line invoices on {args.db}, posted with no worker running; "
        f"channel {args.channel}"
        + (
            f" (flux integrated {args.flux_seconds:g} s after deposit). "
            if args.channel in ("cii", "ubl")
            else ". "
        )
        + f"Emulator: manual lifecycle, no faults. Worker settings: defaults "
        f"(OUTBOX_BATCH_SIZE=16, OUTBOX_POLL_INTERVAL_SECONDS=0.5) except "
        f"CHORUS_RATE_PER_SECOND={args.chorus_rate:g}, CHORUS_RATE_BURST={args.chorus_burst}"
        + (
            f", CHORUS_FLUX_SCHEMATRON_SHARE={args.schematron_share:g}"
            if args.schematron_share is not None
            else ""
        )
        + "; "
        "API_ONLINE_VALIDATION=false, LOG_LEVEL=WARNING.\n"
    )
    print_table(
        [
            "workers",
            "delivered",
            "wall s",
            "invoices/s (wall)",
            "invoices/s (steady)",
            "emulator got",
            "dup refused",
            "worker RSS MB",
            "emulator RSS MB",
            "worker cores",
            "worker CPU ms/inv",
            "(running)",
            "emulator cores",
            "PG cores",
            "machine %",
        ],
        [
            (
                c.workers,
                f"{c.delivered}/{c.posted}",
                fmt(c.wall_seconds, 2),
                fmt(c.wall_rate, 0),
                fmt(c.steady_rate, 0),
                c.emulator_received,
                c.emulator_duplicates,
                "/".join(fmt(r, 0) for r in c.worker_rss_mb),
                fmt(c.emulator_rss_mb, 0),
                f"{c.worker_cores:.2f}",
                fmt(c.cpu_ms_per_invoice, 1),
                fmt(c.running_cpu_ms_per_invoice, 1),
                f"{c.emulator_cores:.2f}",
                f"{c.postgres_cores:.2f}",
                f"{c.machine_percent:.0f}",
            )
            for c in cases
        ],
    )
    print(
        "\nwall: from starting the worker processes (imports, connections, first token "
        "included) until no invoice is queued; steady: between the first and the last "
        "invoice marked submitted (invoice.updated_at); worker CPU ms/inv: all the "
        "workers' CPU (their schematron pools included) over the drain, start-up included, "
        "per invoice; (running): the same from when every worker is in its loop (its first "
        "heartbeat: imports, settings, connection done). worker/emulator/PG cores: CPU "
        "used during the drain (PG: every PostgreSQL process on the machine); "
        "machine %: all cores busy."
    )
    extra = [c for c in cases if c.db_per_invoice]
    if extra:
        print("\nPostgreSQL work per delivered invoice (pg_stat_database deltas, whole drain):\n")
        names = list(extra[0].db_per_invoice)
        print_table(
            ["workers", *names],
            [(c.workers, *(f"{c.db_per_invoice[n]:.2f}" for n in names)) for c in extra],
        )
    two = next((c for c in cases if c.workers == 2), None)
    rss = max((r for c in cases for r in c.worker_rss_mb), default=None)
    print("\nTargets:")
    if two is not None:
        ok = two.wall_rate >= TARGET_RATE_2_WORKERS
        print(
            f"- >= {TARGET_RATE_2_WORKERS:.0f} invoices/s with 2 workers: "
            f"{two.wall_rate:.0f} wall, {two.steady_rate:.0f} steady -> "
            f"{'met' if ok else 'NOT met'}"
        )
    verdict = "met" if rss is not None and rss < TARGET_RSS_MB else "NOT met"
    print(f"- < {TARGET_RSS_MB:.0f} MB RSS per worker: {fmt(rss, 0)} MB -> {verdict}")
    exact = all(c.emulator_received == c.posted and not c.emulator_duplicates for c in cases)
    print(f"- exactly once (emulator received each invoice once): {'yes' if exact else 'NO'}")
    for case in cases:
        if case.profile:
            title = f"worker 1 of {case.workers} ({case.profile}; figures above taken under py-spy)"
            print_summary(summarize(Path(case.profile)), title)


def main() -> None:
    """Run the worker counts asked for and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3000, help="backlog size")
    parser.add_argument(
        "--workers", action="append", type=int, help="worker processes, repeatable; default 1, 2"
    )
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--chorus-rate", type=float, default=100_000.0)
    parser.add_argument("--chorus-burst", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=600.0, help="per drain, seconds")
    parser.add_argument("--keep-workdir", action="store_true", help="keep the logs")
    parser.add_argument("--profile", metavar="DIR", help="py-spy the first worker of each case")
    parser.add_argument("--profile-seconds", type=float, default=20.0)
    parser.add_argument(
        "--channel", choices=["cii", "ubl", "saisie"], default="cii", help="CHORUS_DELIVERY_FORMAT"
    )
    parser.add_argument(
        "--flux-seconds", type=float, default=0.5, help="emulator's flux processing delay"
    )
    parser.add_argument(
        "--schematron-share",
        type=float,
        help="CHORUS_FLUX_SCHEMATRON_SHARE (default: the shipped one); 1 checks every flux",
    )
    args = parser.parse_args()
    if not 1 <= args.n <= 200_000:
        parser.error("-n must be within 1..200000")
    if not 1 <= args.timeout <= 3600:
        parser.error("--timeout must be within 1..3600")
    background = background_busy()
    if background > 15:
        log(f"warning: the machine is already {background:.0f} % busy; figures will be low")
    with workdir(keep=args.keep_workdir) as root:
        cases = [run_case(w, args, root) for w in (args.workers or [1, 2])]
    report(cases, args, background)


if __name__ == "__main__":
    main()
