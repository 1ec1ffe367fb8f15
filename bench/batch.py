"""Batch benchmark: `POST /v1/invoices/batch` with 100 ten-line invoices per request.

    .venv/bin/python -m bench.batch                              # PostgreSQL, 1 API process
    .venv/bin/python -m bench.batch --db sqlite --batches 5 --connections 1

Serves the gateway (`gateway serve --workers N`) on a fresh database, then, from this process,
posts `--batches` batches over `--connections` concurrent connections, `--runs` times (numbers
unique across runs, each item with its own idempotency key unless `--no-idempotency-key`).
Prints accepted invoices/s per run and their median, and the API's CPU per accepted invoice.
"""

from __future__ import annotations

import argparse
import json
import statistics
import uuid
from dataclasses import dataclass

import httpx

from bench.common import (
    BenchError,
    TimedLoad,
    background_busy,
    fmt,
    invoice_body_parts,
    log,
    machine_line,
    machine_summary,
    post_concurrently,
    print_table,
    ready_gateway,
    workdir,
)
from harness.processes import free_port

TARGET_RATE = 5000.0


@dataclass
class Run(TimedLoad):
    """One timed run."""

    invoices: int


def _batch_body(prefix: str, suffix: str, tag: str, size: int, keys: bool) -> bytes:
    items = []
    for n in range(size):
        number = f"{tag}-{n}"
        key = f',"idempotency_key":"{number}"' if keys else ""
        items.append(f'{{"invoice":{prefix}{number}{suffix}{key}}}')
    return ('{"invoices":[' + ",".join(items) + "]}").encode("utf-8")


def _post(client: httpx.Client, body: bytes) -> int:
    response = client.post("/v1/invoices/batch", content=body)
    if response.status_code != 200:
        raise BenchError(f"batch answered {response.status_code}: {response.text[:300]}")
    return sum(1 for item in response.json()["items"] if item["status"] == 201)


def _run(
    port: int, api_pid: int, key: str, *, batches: int, size: int, connections: int, keys: bool
) -> Run:
    prefix, suffix = invoice_body_parts()
    # Built before the clock starts: the load generator's work is not the gateway's.
    bodies = [
        _batch_body(prefix, suffix, f"B{uuid.uuid4().hex[:8]}", size, keys) for _ in range(batches)
    ]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    accepted, seconds, cpu = post_concurrently(
        port, api_pid, bodies, _post, headers=headers, connections=connections, timeout=300
    )
    cpu_ms = 1000 * cpu / accepted if accepted else 0.0
    return Run(invoices=batches * size, accepted=accepted, seconds=seconds, api_cpu_ms=cpu_ms)


def main() -> None:
    """Parse arguments, run, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--workers", type=int, default=1, help="API processes")
    parser.add_argument("--batches", type=int, default=10, help="batches per run")
    parser.add_argument("--size", type=int, default=100, help="invoices per batch")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-idempotency-key", dest="keys", action="store_false")
    args = parser.parse_args()
    if not (1 <= args.size <= 500 and 1 <= args.batches <= 1000 and 1 <= args.runs <= 20):
        parser.error("--size 1..500, --batches 1..1000, --runs 1..20")
    machine = machine_summary()
    busy = background_busy()
    runs: list[Run] = []
    with workdir() as root, ready_gateway(args.db, root) as (gateway, key):
        port = free_port()
        with gateway.serving(port, args.workers) as api:
            log("warm-up batch")
            _run(port, api.pid, key, batches=1, size=10, connections=1, keys=args.keys)
            for n in range(args.runs):
                log(f"run {n + 1}/{args.runs}: {args.batches} batches of {args.size}")
                runs.append(
                    _run(
                        port,
                        api.pid,
                        key,
                        batches=args.batches,
                        size=args.size,
                        connections=args.connections,
                        keys=args.keys,
                    )
                )
    rates = sorted(run.rate for run in runs)
    median = statistics.median(rates)
    print(f"\n## POST /v1/invoices/batch ({args.db}, {args.workers} API process(es))\n")
    print(
        f"{machine_line(machine, busy)}; {args.size} invoices per batch, "
        f"{args.connections} connections, idempotency keys {'on' if args.keys else 'off'}\n"
    )
    rows = [
        [n + 1, r.invoices, r.accepted, fmt(r.seconds, 2), fmt(r.rate), fmt(r.api_cpu_ms, 2)]
        for n, r in enumerate(runs)
    ]
    print_table(
        ["run", "invoices", "accepted", "seconds", "invoices/s", "API CPU ms/invoice"], rows
    )
    print(f"\nmedian: **{fmt(median)} invoices/s** (target ≥ {fmt(TARGET_RATE, 0)})")
    print(json.dumps({"median_invoices_per_second": round(median, 1)}))


if __name__ == "__main__":
    main()
