"""Scale benchmark: read and claim latency with 10k and 1M invoices stored (PostgreSQL).

    .venv/bin/python -m bench.scale                        # 10,000 and 1,000,000 invoices
    .venv/bin/python -m bench.scale --size 10000 --size 100000 --requests 300

Every size gets a fresh database, loaded first; then the sizes are measured back to back.
1. rows are made by SQL (`INSERT ... SELECT generate_series`, in chunks): invoices spread over a
   year with time-ordered `inv_` ids, half for each demo supplier; 3 lines each; their history
   (queued, then submitted, paid or rejected); their outbox items (delivered ones `done`, a sync
   item `pending` hours ahead for the invoices Chorus has not settled, and a due backlog of
   `--due` queued invoices); then VACUUM ANALYZE;
2. the API (`gateway serve`, 1 process) answers, one request at a time over a keep-alive
   connection from this process: `GET /v1/invoices?limit=50` (first page), the same with a
   cursor deep in the list (25-100 % down), `GET /v1/invoices/{id}` for random ids;
3. `claim_due` (OUTBOX_BATCH_SIZE=16) is timed from its own process (`bench.claim_probe`).
Median and p99 for each, with the load time and the table sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from app.domain.identifiers import STATE_SIRET
from bench.common import (
    OTHER_SUPPLIER_SIRET,
    SUPPLIER_SIRET,
    BenchError,
    Gateway,
    background_busy,
    fmt,
    log,
    peak_rss_mb,
    percentile,
    print_machine,
    print_table,
    workdir,
)
from bench.httpclient import Connection, build_request
from harness.databases import Database
from harness.processes import LOOPBACK, free_port, python_env

CHUNK = 100_000
YEAR_MS = 365 * 24 * 3600 * 1000

# Crockford base32 of the `n` low 5-bit groups of `v` (n <= 13 keeps shifts under 64 bits).
_B32 = """
CREATE FUNCTION pg_temp.b32(v bigint, n int) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT string_agg(
    substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((v >> (5 * (n - 1 - i))) & 31)::int + 1, 1),
    '' ORDER BY i)
  FROM generate_series(0, n - 1) AS i
$$
"""

# One row per invoice number g in [$1, $2]: its time, id and status. $3 = size, $4 = newest
# `--due` invoices still queued, $5 = first millisecond, $6 = milliseconds between invoices.
_SERIES = """
  SELECT g,
         ts,
         'inv_' || pg_temp.b32(ms, 10) || '000' || pg_temp.b32(g, 13) AS id,
         CASE WHEN g > $3::bigint - $4::bigint THEN 'queued'
              WHEN g % 20 = 0 THEN 'rejected'
              WHEN g % 20 < 8 THEN 'paid'
              ELSE 'submitted' END AS st
  FROM (SELECT g, $5::bigint + g * $6::bigint AS ms,
               to_timestamp(($5::bigint + g * $6::bigint) / 1000.0) AS ts
        FROM generate_series($1::bigint, $2::bigint) AS g) AS t
"""

_INVOICES = """
INSERT INTO invoice (
  id, client_id, status, type, invoice_number, issue_date, due_date, currency, framework,
  supplier_siret, supplier_name, supplier_vat_number, buyer_siret, buyer_service_code,
  buyer_name, legal_commitment, preceding_invoice, note, total_net, total_vat, total_gross,
  validation_mode, has_pdf, chorus_invoice_id, chorus_flux_number, chorus_status,
  chorus_status_at, chorus_rejection, created_at, updated_at)
SELECT id, $7, st, 'invoice', 'S' || lpad(g::text, 10, '0'), ts::date,
       (ts + interval '30 days')::date, 'EUR', 'A1_FACTURE_FOURNISSEUR',
       CASE WHEN g % 2 = 0 THEN '__SUPPLIER__' ELSE '__OTHER_SUPPLIER__' END,
       'ACME FOURNITURES SAS', NULL, '__STATE__', 'SFACETAT', 'Etat', '1234567890',
       NULL, NULL, '74.04', '14.81', '88.85', 'offline', false,
       CASE WHEN st = 'queued' THEN NULL ELSE g END,
       CASE WHEN st = 'queued' THEN NULL ELSE 'FLUX' || g END,
       CASE st WHEN 'queued' THEN NULL WHEN 'paid' THEN 'MISE_EN_PAIEMENT'
               WHEN 'rejected' THEN 'REJETEE' ELSE 'MISE_A_DISPOSITION' END,
       CASE WHEN st = 'queued' THEN NULL ELSE ts + interval '2 days' END,
       CASE WHEN st = 'rejected'
            THEN jsonb_build_object('code', 'REJETEE', 'label', 'Montant erroné') END,
       ts,
       CASE WHEN st = 'queued' THEN ts ELSE ts + interval '2 days' END
FROM (__SERIES__) AS s
"""

_LINES = """
INSERT INTO invoice_line (
  invoice_id, position, description, quantity, unit_price, vat_rate, net_amount, unit, reference)
SELECT id, p, 'Article ' || p, p::text, '12.34', '20', (12.34 * p)::numeric(12, 2)::text,
       NULL, NULL
FROM (__SERIES__) AS s CROSS JOIN generate_series(1, 3) AS p
"""

_HISTORY = """
INSERT INTO invoice_history (invoice_id, at, status, chorus_status, detail)
SELECT id, ts, 'queued', NULL, NULL FROM (__SERIES__) AS s
UNION ALL
SELECT id, ts + interval '1 minute', 'submitted', 'DEPOSEE', NULL
FROM (__SERIES__) AS s WHERE st <> 'queued'
UNION ALL
SELECT id, ts + interval '2 days', st,
       CASE st WHEN 'paid' THEN 'MISE_EN_PAIEMENT' WHEN 'rejected' THEN 'REJETEE' END,
       CASE st WHEN 'rejected' THEN 'Montant erroné' END
FROM (__SERIES__) AS s WHERE st IN ('paid', 'rejected')
"""

# Deliveries: done, or pending and due for the queued ones. Syncs: pending hours ahead while
# Chorus has not settled the invoice, done once it has.
_OUTBOX = """
INSERT INTO outbox_item (
  kind, invoice_id, payload, state, attempts, next_attempt_at, lease_owner, lease_until,
  last_error, created_at, updated_at)
SELECT 'invoice.deliver', id, '{}'::jsonb,
       CASE WHEN st = 'queued' THEN 'pending' ELSE 'done' END,
       CASE WHEN st = 'queued' THEN 0 ELSE 1 END,
       ts, NULL, NULL::timestamptz, NULL, ts, ts + interval '1 minute'
FROM (__SERIES__) AS s
UNION ALL
SELECT 'invoice.sync', id, jsonb_build_object('seen', 1, 'polls', 3),
       CASE WHEN st = 'submitted' THEN 'pending' ELSE 'done' END,
       3, now() + (g % 21600) * interval '1 second', NULL, NULL::timestamptz, NULL,
       ts + interval '1 minute', ts + interval '2 days'
FROM (__SERIES__) AS s WHERE st <> 'queued'
"""

_TABLES = ("invoice", "invoice_line", "invoice_history", "outbox_item")


def _sql(template: str) -> str:
    """A statement above with the invoice series and the SIRETs put in (constant text)."""
    return (
        template.replace("__SERIES__", _SERIES)
        .replace("__SUPPLIER__", SUPPLIER_SIRET)
        .replace("__OTHER_SUPPLIER__", OTHER_SUPPLIER_SIRET)
        .replace("__STATE__", STATE_SIRET)
    )


@dataclass
class ScaleCase:
    """The figures of one size."""

    size: int
    load_seconds: float = 0.0
    table_mb: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    latency: dict[str, tuple[float, float]] = field(default_factory=dict)
    claim: dict[str, Any] = field(default_factory=dict)
    api_rss_mb: float | None = None


async def load(dsn: str, size: int, due: int, client_id: str) -> None:
    """Fill the four tables with `size` invoices, chunk by chunk, then VACUUM ANALYZE."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("SET synchronous_commit = off")  # loading only; our own DB
        await connection.execute(_B32)
        first_ms = int(time.time() * 1000) - YEAR_MS
        step_ms = max(1, YEAR_MS // size)
        for low in range(1, size + 1, CHUNK):
            high = min(size, low + CHUNK - 1)
            params = (low, high, size, due, first_ms, step_ms)
            async with connection.transaction():
                await connection.execute(_sql(_INVOICES), *params, client_id)
                for statement in (_LINES, _HISTORY, _OUTBOX):
                    await connection.execute(_sql(statement), *params)
            log(f"  {high:,}/{size:,} invoices")
        for table in _TABLES:
            await connection.execute(f"VACUUM ANALYZE {table}")
    finally:
        await connection.close()


async def _table_stats(dsn: str) -> tuple[dict[str, int], dict[str, float]]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = {
            t: int(await connection.fetchval(f"SELECT count(*) FROM {t}"))  # noqa: S608 - our table names
            for t in _TABLES
        }
        sizes = {
            t: int(await connection.fetchval("SELECT pg_total_relation_size($1)", t)) / 2**20
            for t in _TABLES
        }
    finally:
        await connection.close()
    return rows, sizes


async def _sample_ids(dsn: str, count: int) -> tuple[list[str], list[str]]:
    """Random invoice ids of the bench supplier, and those 25-100 % deep into its list."""
    connection = await asyncpg.connect(dsn)
    try:
        total = int(
            await connection.fetchval(
                "SELECT count(*) FROM invoice WHERE supplier_siret = $1", SUPPLIER_SIRET
            )
        )
        picks = sorted({random.randrange(total) for _ in range(count)})
        rows = await connection.fetch(
            "SELECT id, n FROM (SELECT id, row_number() OVER (ORDER BY id DESC) - 1 AS n"
            " FROM invoice WHERE supplier_siret = $1) AS ranked WHERE n = ANY($2::bigint[])",
            SUPPLIER_SIRET,
            picks,
        )
    finally:
        await connection.close()
    ids = [str(row["id"]) for row in rows]
    deep = [str(row["id"]) for row in rows if row["n"] >= total // 4]
    random.shuffle(ids)
    return ids, deep


def _cursor(invoice_id: str) -> str:
    """The list's cursor for "after this invoice" (base64url of the id, unpadded)."""
    return base64.urlsafe_b64encode(invoice_id.encode("ascii")).decode("ascii").rstrip("=")


async def _time_requests(port: int, key: str, paths: list[str], warmup: int) -> list[float]:
    """GET each path in turn on one keep-alive connection; latencies in ms (after warm-up)."""
    connection = await Connection.open(LOOPBACK, port)
    host = f"{LOOPBACK}:{port}"
    headers = {"Authorization": f"Bearer {key}"}
    latencies = []
    try:
        for i, path in enumerate(paths):
            request = build_request("GET", path, host=host, headers=headers)
            started = time.perf_counter()
            response = await connection.send(request)
            elapsed = time.perf_counter() - started
            if response.status != 200:
                raise BenchError(f"GET {path}: {response.status} {response.body[:200]!r}")
            if i >= warmup:
                latencies.append(elapsed * 1000)
    finally:
        await connection.close()
    return latencies


def _claim(database: Database, calls: int) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.claim_probe", "--url", database.app_url]
    completed = subprocess.run(  # noqa: S603 - fixed argv: our interpreter, our probe
        [*argv, "--calls", str(calls)],
        env=python_env({"LOG_LEVEL": "WARNING"}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if completed.returncode != 0:
        raise BenchError(f"claim probe failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


@dataclass
class Prepared:
    """A loaded database, ready to be measured."""

    case: ScaleCase
    database: Database
    gateway: Gateway
    key: str


def prepare(size: int, args: argparse.Namespace, root: Path) -> Prepared:
    """A fresh database holding `size` invoices (the caller drops it)."""
    case = ScaleCase(size)
    wd = root / f"scale-{size}"
    wd.mkdir()
    database = Database.create("postgresql", wd)
    assert database.dsn is not None
    gateway = Gateway(database, wd)
    prepared = Prepared(case, database, gateway, "")
    try:
        gateway.migrate()
        prepared.key = gateway.create_client()
        client_id = str(database.fetchval("SELECT id FROM api_client WHERE name = 'bench'"))
        log(f"{size:,}: loading")
        started = time.monotonic()
        asyncio.run(load(database.dsn, size, min(args.due, size), client_id))
        case.load_seconds = time.monotonic() - started
        case.rows, case.table_mb = asyncio.run(_table_stats(database.dsn))
    except BaseException:
        database.drop()
        raise
    return prepared


def measure(prepared: Prepared, args: argparse.Namespace) -> None:
    """The API's read latencies and claim_due's, on a loaded database."""
    case, database = prepared.case, prepared.database
    assert database.dsn is not None
    ids, deep = asyncio.run(_sample_ids(database.dsn, args.requests))
    port = free_port()
    with prepared.gateway.serving(port, 1) as api:
        n, warm = args.requests, 20
        first = ["/v1/invoices?limit=50"] * (n + warm)
        deep_pages = [f"/v1/invoices?limit=50&cursor={_cursor(i)}" for i in deep]
        deep_pages = (deep_pages * (1 + (n + warm) // max(len(deep_pages), 1)))[: n + warm]
        gets = [f"/v1/invoices/{i}" for i in (ids * 2)[: n + warm]]
        for label, paths in (
            ("list, first page", first),
            ("list, deep cursor", deep_pages),
            ("get by id", gets),
        ):
            log(f"{case.size:,}: {label}")
            values = sorted(asyncio.run(_time_requests(port, prepared.key, paths, warm)))
            case.latency[label] = (percentile(values, 0.5), percentile(values, 0.99))
        case.api_rss_mb = peak_rss_mb(api.pid)
    log(f"{case.size:,}: claim_due")
    case.claim = _claim(database, args.requests)


def report(cases: list[ScaleCase], args: argparse.Namespace, background: float) -> None:
    """The figures as Markdown on stdout."""
    print("\n## Scale benchmark (PostgreSQL)\n")
    print_machine(background)
    print(
        f"{args.requests} sequential requests per figure (after 20 warm-up) on one keep-alive "
        "connection; the bench client sees half of the invoices (one of two suppliers). "
        f"claim_due: limit 16, {args.requests} calls, {args.due} due items. API: 1 process, "
        "API_ONLINE_VALIDATION=false, LOG_LEVEL=WARNING.\n"
    )
    labels = ["list, first page", "list, deep cursor", "get by id"]
    print_table(
        [
            "invoices",
            "load s",
            *(f"{label} p50/p99 ms" for label in labels),
            "claim_due p50/p99 ms",
            "API RSS MB",
            "tables MB",
        ],
        [
            (
                f"{c.size:,}",
                fmt(c.load_seconds, 0),
                *(
                    f"{fmt(c.latency[label][0], 2)} / {fmt(c.latency[label][1], 2)}"
                    for label in labels
                ),
                f"{fmt(c.claim.get('p50_ms'), 2)} / {fmt(c.claim.get('p99_ms'), 2)}",
                fmt(c.api_rss_mb, 0),
                fmt(sum(c.table_mb.values()), 0),
            )
            for c in cases
        ],
    )
    print("\nRows stored:\n")
    print_table(
        ["invoices", *_TABLES],
        [(f"{c.size:,}", *(f"{c.rows.get(t, 0):,}" for t in _TABLES)) for c in cases],
    )
    if len(cases) > 1:
        small, big = cases[0], cases[-1]
        print(f"\nCost ratio {big.size:,} / {small.size:,} invoices (1.0 = flat):")
        for label in labels:
            print(f"- {label}: p50 x{big.latency[label][0] / small.latency[label][0]:.2f}")
        ratio = big.claim["p50_ms"] / small.claim["p50_ms"]
        print(f"- claim_due: p50 x{ratio:.2f}")


def main() -> None:
    """Run the sizes asked for and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size", action="append", type=int, help="invoices stored, repeatable; 10k and 1M"
    )
    parser.add_argument("--requests", type=int, default=200, help="per figure")
    parser.add_argument("--due", type=int, default=1000, help="queued invoices due for claim")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-workdir", action="store_true")
    args = parser.parse_args()
    sizes = args.size or [10_000, 1_000_000]
    if any(not 100 <= s <= 10_000_000 for s in sizes):
        parser.error("--size must be within 100..10,000,000")
    if not 10 <= args.requests <= 10_000:
        parser.error("--requests must be within 10..10000")
    random.seed(args.seed)
    background = background_busy()
    if background > 15:
        log(f"warning: the machine is already {background:.0f} % busy; figures will be high")
    prepared: list[Prepared] = []
    with workdir(keep=args.keep_workdir) as root:
        try:
            # Load every size first, then measure them back to back: the figures compared are
            # taken minutes apart, not a long load apart.
            for size in sorted(sizes):
                prepared.append(prepare(size, args, root))
            for each in prepared:
                measure(each, args)
        finally:
            for each in prepared:
                each.database.drop()
    report([p.case for p in prepared], args, background)


if __name__ == "__main__":
    main()
