"""Anatomy of one `POST /v1/invoices`: CPU and wall time per step, database round trips.

    .venv/bin/python -m bench.anatomy [--db postgresql|sqlite] [--count 200]

Runs the gateway's ASGI app in this process (no HTTP server: httpx's ASGI transport) over a
fresh database and posts `--count` invoices one at a time after a warm-up. Since one request
runs at a time, the process CPU time (`time.process_time`) spent inside a step is that step's
CPU cost, and its wall time minus its CPU time is waiting (database round trips, fsync). The
steps are timed by wrapping the app's functions where they are looked up at call time (module
attributes); the app's code is not changed. It also counts what reaches the database per
invoice: on PostgreSQL each asyncpg call that is a round trip (BEGIN, COMMIT, ROLLBACK, each
statement executed, each prepare on a statement-cache miss, the pool's pre-ping), and for both
backends SQLAlchemy's statements, transactions and pool checkouts.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import os
import pstats
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from bench.common import BENCH_SETTINGS, invoice_body_parts, log, ready_gateway, workdir

COUNTS: Counter[str] = Counter()
STATEMENTS: Counter[str] = Counter()
CPU: defaultdict[str, float] = defaultdict(float)  # seconds, inclusive
WALL: defaultdict[str, float] = defaultdict(float)
CALLS: Counter[str] = Counter()

# (module, attribute, label): functions looked up at call time on these modules, timed.
STEPS: tuple[tuple[str, str, str], ...] = (
    ("app.invoices.service", "submit_invoice", "submit_invoice (the use case, all of it)"),
    ("app.invoices.router", "decode_json_body", "decode_json_body (JSON body)"),
    ("app.invoices.service", "check_invoice", "check_invoice (parse + validate)"),
    ("app.invoices.service", "parse_invoice", "  parse_invoice (pydantic InvoiceIn)"),
    ("app.invoices.service", "totals_violations", "  totals_violations"),
    ("app.invoices.service", "validate_invoice", "  validate_invoice (rules)"),
    ("app.invoices.service", "to_draft", "  to_draft (any caller)"),
    ("app.invoices.service", "submission_fingerprint", "submission_fingerprint (normalized JSON)"),
    ("app.invoices.service", "_new_invoice", "_new_invoice (unsaved entity)"),
    ("app.invoices.service", "invoice_out", "invoice_out (response model)"),
    ("app.invoices.service", "_new_rows", "_new_rows (column values, event, outbox)"),
    ("app.invoices.insertion", "insert_new_invoice", "insert_new_invoice (the INSERTs)"),
    ("app.invoices.repository", "find_id_by_natural_key", "  duplicate check SELECT"),
    ("app.auth.dependencies", "authenticate", "authenticate (API key cache miss)"),
)


def _time_steps() -> None:
    """Wrap each step of STEPS to add its CPU and wall time (inclusive) to the counters."""
    import importlib
    import inspect
    import time

    for module_name, attribute, label in STEPS:
        module = importlib.import_module(module_name)
        original = getattr(module, attribute)

        def record(label: str, cpu0: float, wall0: float) -> None:
            CPU[label] += time.process_time() - cpu0
            WALL[label] += time.perf_counter() - wall0
            CALLS[label] += 1

        if inspect.iscoroutinefunction(original):

            def make_async(original: Any, label: str) -> Any:
                @functools.wraps(original)
                async def timed(*args: Any, **kwargs: Any) -> Any:
                    cpu0, wall0 = time.process_time(), time.perf_counter()
                    try:
                        return await original(*args, **kwargs)
                    finally:
                        record(label, cpu0, wall0)

                return timed

            setattr(module, attribute, make_async(original, label))
        else:

            def make_sync(original: Any, label: str) -> Any:
                @functools.wraps(original)
                def timed(*args: Any, **kwargs: Any) -> Any:
                    cpu0, wall0 = time.process_time(), time.perf_counter()
                    try:
                        return original(*args, **kwargs)
                    finally:
                        record(label, cpu0, wall0)

                return timed

            setattr(module, attribute, make_sync(original, label))

    from sqlalchemy.ext.asyncio import AsyncSession

    for method in ("commit", "flush"):
        original = getattr(AsyncSession, method)
        label = f"AsyncSession.{method} (any caller)"

        def make_method(original: Any, label: str) -> Any:
            @functools.wraps(original)
            async def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
                cpu0, wall0 = time.process_time(), time.perf_counter()
                try:
                    return await original(self, *args, **kwargs)
                finally:
                    CPU[label] += time.process_time() - cpu0
                    WALL[label] += time.perf_counter() - wall0
                    CALLS[label] += 1

            return timed

        setattr(AsyncSession, method, make_method(original, label))


def _first_word(sql: object) -> str:
    text = str(sql).lstrip().split(None, 1)
    return text[0].upper() if text else "<empty>"


def _count_asyncpg() -> None:
    """Wrap the asyncpg methods SQLAlchemy's dialect uses; each call is one round trip."""
    import asyncpg  # type: ignore[import-untyped]
    from asyncpg.prepared_stmt import PreparedStatement  # type: ignore[import-untyped]

    def wrap(owner: type, name: str, label: Callable[[Any, tuple[Any, ...]], str]) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
            COUNTS[f"pg round trip: {label(self, args)}"] += 1
            return await original(self, *args, **kwargs)

        setattr(owner, name, counted)

    wrap(asyncpg.Connection, "execute", lambda _, a: _first_word(a[0]) + " (simple query)")
    wrap(asyncpg.Connection, "fetchrow", lambda _, a: f"fetchrow {a[0]!r}")
    wrap(asyncpg.Connection, "prepare", lambda _, a: "PREPARE (statement cache miss)")
    wrap(asyncpg.Connection, "executemany", lambda _, a: _first_word(a[0]) + " (executemany)")
    wrap(PreparedStatement, "fetch", lambda s, _: _first_word(s.get_query()))


TOTAL = "the whole request (+ httpx ASGI client)"


def _count_sqlalchemy() -> None:
    def statement(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        COUNTS[f"sqlalchemy statement: {_first_word(sql)}{' (many)' if many else ''}"] += 1
        STATEMENTS[" ".join(sql.split())[:90]] += 1

    event.listen(Engine, "before_cursor_execute", statement)
    event.listen(Engine, "begin", lambda conn: COUNTS.update(["sqlalchemy: begin"]))
    event.listen(Engine, "commit", lambda conn: COUNTS.update(["sqlalchemy: commit"]))
    event.listen(Engine, "rollback", lambda conn: COUNTS.update(["sqlalchemy: rollback"]))
    event.listen(Pool, "checkout", lambda *a: COUNTS.update(["pool: checkout"]))


async def _post_many(key: str, count: int, warmup: int, cprofile: str | None = None) -> int:
    from app.main import create_app
    from app.settings import Settings

    app = create_app(Settings())
    prefix, suffix = invoice_body_parts()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    transport = httpx.ASGITransport(app=app)
    accepted = 0
    profiler = cProfile.Profile() if cprofile else None
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
    ):
        for i in range(warmup + count):
            if i == warmup:
                for counter in (COUNTS, STATEMENTS, CPU, WALL, CALLS):
                    counter.clear()
                if profiler is not None:
                    profiler.enable()
            number = f"RT-{i}"
            cpu0, wall0 = time.process_time(), time.perf_counter()
            response = await client.post(
                "/v1/invoices",
                content=(prefix + number + suffix).encode(),
                headers=headers | {"Idempotency-Key": f"bench-{number}"},
            )
            CPU[TOTAL] += time.process_time() - cpu0
            WALL[TOTAL] += time.perf_counter() - wall0
            CALLS[TOTAL] += 1
            if response.status_code != 201:
                raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
            accepted += int(i >= warmup)
    if profiler is not None and cprofile:
        profiler.disable()
        profiler.dump_stats(cprofile)
        pstats.Stats(cprofile).sort_stats("tottime").print_stats(25)
    return accepted


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop, as uvicorn runs the API (`uvicorn[standard]`), when installed."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main() -> None:
    """Count and print the round trips per invoice."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument(
        "--cprofile", metavar="FILE", help="also run cProfile over the timed requests (pstats)"
    )
    args = parser.parse_args()
    if not 1 <= args.count <= 10_000:
        parser.error("--count must be within 1..10000")
    with workdir() as root, ready_gateway(args.db, root) as (gateway, key):
        try:
            # This process runs the app: it takes the gateway's settings from its environment.
            for variable, setting in gateway.env().items():
                if variable in BENCH_SETTINGS or variable.startswith(("DATABASE_", "CHORUS_")):
                    os.environ[variable] = setting
            os.chdir(root)  # the app reads no .env of the developer's
            if args.db == "postgresql":
                _count_asyncpg()
            _count_sqlalchemy()
            _time_steps()
            log(f"posting {args.count} invoices in-process")
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                accepted = runner.run(
                    _post_many(key, args.count, warmup=10, cprofile=args.cprofile)
                )
            counts, statements = dict(COUNTS), dict(STATEMENTS)
            cpu, wall, calls = dict(CPU), dict(WALL), dict(CALLS)
        finally:
            os.chdir(Path(__file__).resolve().parents[1])
    print(f"\n## Anatomy of POST /v1/invoices ({args.db}, {accepted} invoices, one at a time)\n")
    print("| step | calls/req | CPU ms/req | wall ms/req | waiting ms/req |\n|---|---|---|---|---|")
    for label in [TOTAL, *(step[2] for step in STEPS), *sorted(k for k in cpu if "Session" in k)]:
        if label not in calls:
            continue
        c, w = 1000 * cpu[label] / accepted, 1000 * wall[label] / accepted
        print(
            f"| {label} | {calls[label] / accepted:.2f} | {c:.2f} | {w:.2f} | {max(w - c, 0):.2f} |"
        )
    print(f"\n## Database calls per accepted invoice ({args.db})\n")
    print("| call | per invoice |\n|---|---|")
    for name, value in sorted(counts.items()):
        print(f"| {name} | {value / accepted:.2f} |")
    trips = sum(v for k, v in counts.items() if k.startswith("pg round trip"))
    if trips:
        print(f"\nTotal PostgreSQL round trips per invoice: {trips / accepted:.1f}")
    print("\nStatements (SQLAlchemy), per invoice:\n")
    print("| statement | per invoice |\n|---|---|")
    for sql, value in sorted(statements.items(), key=lambda item: -item[1]):
        print(f"| `{sql}` | {value / accepted:.2f} |")


if __name__ == "__main__":
    main()
