"""Ingest benchmark: concurrent `POST /v1/invoices` (10-line invoices), against a bare ceiling.

    .venv/bin/python -m bench.ingest                      # SQLite and PostgreSQL, 1 API process
    .venv/bin/python -m bench.ingest --db postgresql --workers 1 --workers 2 --seconds 20
    .venv/bin/python -m bench.ingest --db postgresql --profile bench/out   # + a py-spy profile

For each database and API process count (`gateway serve --workers N`), on a fresh database:
1. warm-up, then **max rate**: `wrk` (closed loop, `--connections` open) for `--seconds`:
   accepted invoices/s (HTTP 201), median and p99 latency;
2. **half rate**: an open-loop generator (`bench.openloop`, another process) sends at half the
   accepted rate measured in 1 for `--seconds`; latency from each request's due time;
3. peak RSS (VmHWM) of every API process, the API's CPU use, database work per invoice.
In the same run, the **bare FastAPI endpoint** (`bench.bare_app`, same uvicorn settings, same
process count) under the same wrk load: the ceiling, and the gateway's share of it.
`--profile DIR` adds a py-spy run per case (flame data in DIR, summary printed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    BenchError,
    CpuMeter,
    background_busy,
    fmt,
    invoice_body_parts,
    log,
    machine_summary,
    peak_rss_mb,
    postgres_pids,
    print_machine,
    print_table,
    py_spy_record,
    ready_gateway,
    run_openloop,
    workdir,
)
from bench.profile import print_summary, summarize
from bench.wrk import WrkResult, run_wrk
from harness.databases import Database
from harness.processes import LOOPBACK, Proc, free_port, python_env, wait_http

TARGET_RATE = 800.0
TARGET_P99_MS = 50.0
TARGET_CEILING_SHARE = 0.25
TARGET_RSS_MB = 200.0


@dataclass
class Case:
    """The figures of one server (gateway on one database, or the bare app)."""

    name: str
    backend: str
    workers: int
    max_load: WrkResult | None = None
    half_rate: dict[str, Any] | None = None
    rss_mb: list[float] = field(default_factory=list)
    api_cores: float = 0.0
    api_cpu_ms_per_request: float = 0.0
    pg_cpu_ms_per_request: float | None = None
    machine_busy_percent: float = 0.0
    db_per_invoice: dict[str, float] = field(default_factory=dict)
    stored: int | None = None
    accepted_total: int = 0
    profile: str | None = None


def _profile(api: Proc, url: str, key: str, args: argparse.Namespace, wd: Path, name: str) -> Path:
    """py-spy on the API (and its worker processes) while wrk runs; the raw profile."""
    out_dir = Path(args.profile).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = out_dir / f"ingest-{name}.txt"
    argv = py_spy_record(api.pid, args.profile_seconds, raw)
    if len(api.tree()) > 1:
        argv.append("--subprocesses")
    spy = Proc.spawn(f"py-spy-{name}", argv, python_env({}), wd)
    time.sleep(1.0)  # attached
    run_wrk(
        url,
        api_key=key,
        body=invoice_body_parts(),
        seconds=args.profile_seconds,
        connections=args.connections,
        workdir=wd,
        idempotency_keys=not args.no_idempotency_key,
    )
    deadline = time.monotonic() + 60
    while spy.alive and time.monotonic() < deadline:
        time.sleep(0.2)
    spy.stop()
    if not raw.exists():
        raise BenchError(f"py-spy wrote no profile:\n{spy.log_tail()}")
    return raw


def _measure(
    case: Case,
    proc: Proc,
    port: int,
    key: str,
    args: argparse.Namespace,
    wd: Path,
    database: Database | None,
) -> None:
    """Warm-up, max load, half-rate open loop (and the profile) against one running server."""
    url = f"http://{LOOPBACK}:{port}/v1/invoices"
    body = invoice_body_parts()
    keys = not args.no_idempotency_key

    def wrk(seconds: float) -> WrkResult:
        return run_wrk(
            url,
            api_key=key,
            body=body,
            seconds=seconds,
            connections=args.connections,
            workdir=wd,
            idempotency_keys=keys,
        )

    warm = wrk(args.warmup)
    if database is not None:
        # A fresh database has no statistics: until autovacuum's first ANALYZE (a minute or
        # so), PostgreSQL may pick a worse index for the duplicate check (see README).
        database.analyze()
    meter = CpuMeter(proc.tree)
    pg_meter = CpuMeter(postgres_pids)
    before = database.pg_stats() if database else {}
    meter.start()
    pg_meter.start()
    case.max_load = wrk(args.seconds)
    meter.stop()
    pg_meter.stop()
    after = database.pg_stats() if database else {}
    case.api_cores = meter.process_cores
    if case.max_load.requests:
        case.api_cpu_ms_per_request = 1000 * meter.process_cpu / case.max_load.requests
        if database is not None and database.dsn is not None:
            case.pg_cpu_ms_per_request = 1000 * pg_meter.process_cpu / case.max_load.requests
    case.machine_busy_percent = meter.machine_percent
    if case.max_load.accepted and before:
        case.db_per_invoice = {
            name: (after[name] - before[name]) / case.max_load.accepted for name in before
        }
    case.accepted_total = warm.accepted + case.max_load.accepted
    if database is not None and case.max_load.accepted:
        rate = case.max_load.accepted_per_second / 2
        log(f"{case.name}: open loop at {rate:.0f}/s for {args.seconds:g} s")
        options = ["--rate", f"{rate:.3f}", "--seconds", f"{args.seconds:g}"]
        options += ["--tag", f"OL{case.workers}"]
        if keys:
            options.append("--idempotency-keys")
        case.half_rate = run_openloop(
            port,
            key,
            body,
            wd,
            options,
            timeout=args.seconds + 90,
            failure="open-loop generator",
        )
        case.accepted_total += int(case.half_rate["statuses"].get("201", 0))
    case.rss_mb = [rss for pid in proc.tree() if (rss := peak_rss_mb(pid)) is not None]
    if database is not None:
        case.stored = int(database.fetchval("SELECT count(*) FROM invoice"))
    if database is not None and args.profile:
        log(f"{case.name}: profiling for {args.profile_seconds:g} s")
        case.profile = str(_profile(proc, url, key, args, wd, f"{case.backend}-w{case.workers}"))


def run_gateway(backend: str, workers: int, args: argparse.Namespace, root: Path) -> Case:
    """One gateway case on a fresh database."""
    case = Case(f"gateway {backend} w{workers}", backend, workers)
    wd = root / f"{backend}-w{workers}"
    wd.mkdir()
    with ready_gateway(backend, wd) as (gateway, key):  # type: ignore[arg-type]
        port = free_port()
        log(f"{case.name}: starting the API on :{port}")
        with gateway.serving(port, workers) as api:
            _measure(case, api, port, key, args, wd, gateway.database)
    return case


def run_bare(workers: int, args: argparse.Namespace, root: Path) -> Case:
    """The bare FastAPI endpoint under the same wrk load."""
    case = Case(f"bare FastAPI w{workers}", "-", workers)
    wd = root / f"bare-w{workers}"
    wd.mkdir()
    port = free_port()
    argv = [sys.executable, "-m", "bench.bare_app", "--port", str(port)]
    env = python_env({"LOG_LEVEL": "WARNING"})
    proc = Proc.spawn("bare", [*argv, "--workers", str(workers)], env, wd)
    try:
        wait_http(f"http://{LOOPBACK}:{port}/health/ready", proc)
        log(f"{case.name}: measuring")
        _measure(case, proc, port, "bare", args, wd, None)
    finally:
        proc.stop()
    return case


def report(cases: list[Case], args: argparse.Namespace, background: float) -> None:
    """The figures, as Markdown tables on stdout."""
    print("\n## Ingest benchmark\n")
    print_machine(background)
    print(
        f"Load: wrk closed loop, {args.connections} connections, {args.seconds:g} s "
        f"(+{args.warmup:g} s warm-up); half rate: open loop for {args.seconds:g} s. "
        f"10-line invoices, unique numbers, "
        f"{'no Idempotency-Key' if args.no_idempotency_key else 'a unique Idempotency-Key each'}. "
        "Settings: API_ONLINE_VALIDATION=false, LOG_LEVEL=WARNING, LOG_FORMAT=json, "
        "DATABASE_POOL_SIZE=10 (default), everything else default.\n"
    )
    rows = []
    ceilings = {c.workers: c for c in cases if c.backend == "-"}
    for case in cases:
        peak = case.max_load
        if peak is None:
            continue
        ceiling = ceilings.get(case.workers)
        share = (
            peak.accepted_per_second / ceiling.max_load.accepted_per_second
            if case.backend != "-" and ceiling is not None and ceiling.max_load is not None
            else None
        )
        half = case.half_rate or {}
        half_lat = half.get("latency_ms", {})
        errors = peak.requests - peak.accepted
        rows.append(
            (
                case.name,
                fmt(peak.accepted_per_second, 0),
                fmt(peak.p50_ms),
                fmt(peak.p99_ms),
                str(errors),
                "-" if share is None else f"{share:.2f}",
                fmt(half.get("achieved_rate"), 0) if half else "-",
                fmt(half_lat.get("p50")) if half else "-",
                fmt(half_lat.get("p99")) if half else "-",
                fmt(half_lat.get("max")) if half else "-",
                fmt(max(case.rss_mb) if case.rss_mb else None, 0)
                + (f" ({len(case.rss_mb)} proc)" if len(case.rss_mb) > 1 else ""),
                f"{case.api_cores:.2f}",
                f"{case.api_cpu_ms_per_request:.2f}",
                fmt(case.pg_cpu_ms_per_request, 2),
                f"{case.machine_busy_percent:.0f}",
            )
        )
    print_table(
        [
            "server",
            "accepted/s",
            "p50 ms",
            "p99 ms",
            "non-201",
            "x ceiling",
            "half: rate/s",
            "half p50",
            "half p99",
            "half max",
            "peak RSS MB",
            "API cores",
            "CPU ms/req",
            "PG CPU ms/req",
            "machine %",
        ],
        rows,
    )
    print(
        "\naccepted/s: HTTP 201 per second at max load (wrk); p50/p99: wrk latency at max load; "
        "x ceiling: accepted/s over the bare endpoint's requests/s with the same process count; "
        "half: open loop at half the accepted/s, latency from each request's due time; "
        "peak RSS: VmHWM, the largest of the server's processes; API cores: CPU used by the "
        "server processes during max load, and per request (CPU ms/req); PG CPU ms/req: "
        "CPU of every PostgreSQL process on the machine per request; "
        "machine %: all cores busy during max load."
    )
    extra = [c for c in cases if c.db_per_invoice]
    if extra:
        print("\nPostgreSQL work per accepted invoice at max load (pg_stat_database deltas):\n")
        names = list(extra[0].db_per_invoice)
        print_table(
            ["server", *names],
            [(c.name, *(f"{c.db_per_invoice[n]:.2f}" for n in names)) for c in extra],
        )
    checks = [c for c in cases if c.stored is not None]
    if checks:
        print("\nStored vs. answered 201 (a 201 must mean stored; wrk may cut the last requests):")
        for case in checks:
            print(f"- {case.name}: {case.stored} rows, {case.accepted_total} answered 201")
    _targets(cases)
    for case in cases:
        if case.profile:
            print_summary(summarize(Path(case.profile)), f"{case.name} ({case.profile})")


def _targets(cases: list[Case]) -> None:
    pg = [c for c in cases if c.backend == "postgresql" and c.max_load is not None]
    if not pg:
        return
    best = max(pg, key=lambda c: c.max_load.accepted_per_second if c.max_load else 0.0)
    assert best.max_load is not None
    half = (best.half_rate or {}).get("latency_ms", {})
    ceiling = next((c for c in cases if c.backend == "-" and c.workers == best.workers), None)
    share = (
        best.max_load.accepted_per_second / ceiling.max_load.accepted_per_second
        if ceiling and ceiling.max_load
        else None
    )
    rss = max((max(c.rss_mb) for c in cases if c.rss_mb), default=None)
    print(f"\nTargets (PostgreSQL, best case: {best.name}):")
    rate = best.max_load.accepted_per_second
    print(f"- >= {TARGET_RATE:.0f} accepted/s: {rate:.0f} -> {_ok(rate >= TARGET_RATE)}")
    p99 = half.get("p99")
    half_rate = (best.half_rate or {}).get("achieved_rate")
    reached = half_rate is not None and half_rate >= TARGET_RATE / 2 * 0.95
    print(
        f"- p99 <= {TARGET_P99_MS:.0f} ms at half of {TARGET_RATE:.0f}/s: {fmt(p99)} ms "
        f"at {fmt(half_rate, 0)}/s (half of the measured max) -> "
        + (
            _ok(p99 is not None and p99 <= TARGET_P99_MS)
            if reached
            else f"not measurable at {TARGET_RATE / 2:.0f}/s (the max is below it)"
        )
    )
    print(
        f"- >= {TARGET_CEILING_SHARE} x bare ceiling: "
        f"{'-' if share is None else f'{share:.2f}'} -> "
        f"{_ok(share is not None and share >= TARGET_CEILING_SHARE)}"
    )
    print(
        f"- < {TARGET_RSS_MB:.0f} MB RSS per process: {fmt(rss, 0)} MB -> "
        f"{_ok(rss is not None and rss < TARGET_RSS_MB)}"
    )


def _ok(passed: bool) -> str:
    return "met" if passed else "NOT met"


def main() -> None:
    """Run the cases asked for and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db", action="append", choices=["sqlite", "postgresql"], help="repeatable; default both"
    )
    parser.add_argument(
        "--workers", action="append", type=int, help="API processes, repeatable; default 1"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="each measured phase")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--no-idempotency-key", action="store_true")
    parser.add_argument("--profile", metavar="DIR", help="also profile each gateway case")
    parser.add_argument("--profile-seconds", type=float, default=15.0)
    parser.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    parser.add_argument("--keep-workdir", action="store_true", help="keep logs and scripts")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 600 or not 0 < args.warmup <= 120:
        parser.error("--seconds must be within 1..600 and --warmup within 0..120")
    if not 1 <= args.connections <= 1024:
        parser.error("--connections must be within 1..1024")
    backends = args.db or ["sqlite", "postgresql"]
    worker_counts = args.workers or [1]
    background = background_busy()
    if background > 15:
        log(f"warning: the machine is already {background:.0f} % busy; figures will be low")
    cases: list[Case] = []
    with workdir(keep=args.keep_workdir) as root:
        for workers in worker_counts:
            cases.append(run_bare(workers, args, root))
            for backend in backends:
                if backend == "sqlite" and workers > 1:
                    log("skipping SQLite with several API processes (one writer at a time)")
                    continue
                cases.append(run_gateway(backend, workers, args, root))
    report(cases, args, background)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"machine": machine_summary(), "cases": [asdict(c) for c in cases]}, indent=2
            ),
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
