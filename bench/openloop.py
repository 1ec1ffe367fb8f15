"""A load generator process: POST invoices at a fixed rate (open loop), or N of them (closed).

    python -m bench.openloop --port 8000 --key cpg_... --body-file body.json \
        --rate 400 --seconds 20            # open loop: request i is due at start + i / rate
    python -m bench.openloop --port 8000 --key cpg_... --body-file body.json \
        --count 3000 --concurrency 16      # closed loop: N requests, C at a time

Open loop is what a rate target means: requests are due on a schedule whatever the server does,
and each latency is measured from the moment the request was *due* (not when a connection was
free), so a slow server cannot hide its queueing (no coordinated omission). It prints one JSON
object on stdout. Every run is bounded: at most rate x seconds requests (or N), each with a
timeout, and a final wait of at most `--timeout` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import percentile
from bench.httpclient import Connection, HttpError, build_request


@dataclass
class Pool:
    """Keep-alive connections to one server, at most `limit` open."""

    host: str
    port: int
    limit: int
    idle: asyncio.Queue[Connection] = field(default_factory=asyncio.Queue)
    opened: int = 0

    async def take(self) -> Connection:
        """An idle connection, a new one, or the next one freed (in that order)."""
        with contextlib.suppress(asyncio.QueueEmpty):
            return self.idle.get_nowait()
        if self.opened < self.limit:
            self.opened += 1
            try:
                return await Connection.open(self.host, self.port)
            except OSError:
                self.opened -= 1
                raise
        return await self.idle.get()

    def give_back(self, connection: Connection) -> None:
        """Return a healthy connection."""
        self.idle.put_nowait(connection)

    async def discard(self, connection: Connection) -> None:
        """Forget a broken one."""
        self.opened -= 1
        await connection.close()

    async def close(self) -> None:
        """Close every idle connection."""
        while not self.idle.empty():
            await self.idle.get_nowait().close()


@dataclass
class Recorder:
    """Latencies (from due time, and from send time) and outcomes."""

    latencies: list[float] = field(default_factory=list)
    service: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    first_error: str = ""


async def _one(pool: Pool, request: bytes, due: float, limit_s: float, record: Recorder) -> None:
    connection: Connection | None = None
    try:
        async with asyncio.timeout(limit_s):
            connection = await pool.take()
            sent = time.perf_counter()
            response = await connection.send(request)
        done = time.perf_counter()
    except (HttpError, OSError, TimeoutError) as exc:
        record.statuses["error"] += 1
        record.first_error = record.first_error or f"{type(exc).__name__}: {exc}"
        if connection is not None:
            await pool.discard(connection)
        return
    pool.give_back(connection)
    record.statuses[str(response.status)] += 1
    if response.status >= 400 and not record.first_error:
        record.first_error = f"HTTP {response.status}: {response.body[:300]!r}"
    record.latencies.append(done - due)
    record.service.append(done - sent)


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(value * 1000 for value in values)
    return {
        "p50": percentile(ordered, 0.50),
        "p90": percentile(ordered, 0.90),
        "p99": percentile(ordered, 0.99),
        "p999": percentile(ordered, 0.999),
        "max": ordered[-1] if ordered else 0.0,
        "mean": sum(ordered) / len(ordered) if ordered else 0.0,
    }


def _requests(args: argparse.Namespace, total: int) -> list[bytes]:
    parts = json.loads(Path(args.body_file).read_text(encoding="utf-8"))
    host = f"{args.host}:{args.port}"
    built = []
    for i in range(total):
        number = f"{args.tag}-{i + 1}"
        headers = {"Authorization": f"Bearer {args.key}", "Content-Type": "application/json"}
        if args.idempotency_keys:
            headers["Idempotency-Key"] = f"bench-{number}"
        body = (parts["prefix"] + number + parts["suffix"]).encode("utf-8")
        built.append(build_request("POST", args.path, host=host, headers=headers, body=body))
    return built


async def open_loop(args: argparse.Namespace) -> dict[str, object]:
    """Requests due at a fixed rate, each measured from its due time."""
    total = max(1, int(args.rate * args.seconds))
    requests = _requests(args, total)
    pool = Pool(args.host, args.port, args.max_connections)
    record = Recorder()
    tasks: list[asyncio.Task[None]] = []
    lag = 0.0
    start = time.perf_counter() + 0.05
    for i, request in enumerate(requests):
        due = start + i / args.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            lag = max(lag, -delay)
        tasks.append(asyncio.create_task(_one(pool, request, due, args.timeout, record)))
    await asyncio.wait(tasks, timeout=args.timeout + 5)
    elapsed = time.perf_counter() - start
    await pool.close()
    return {
        "mode": "open",
        "target_rate": args.rate,
        "sent": total,
        "elapsed_s": elapsed,
        "achieved_rate": sum(record.statuses.values()) / elapsed,
        "statuses": dict(record.statuses),
        "first_error": record.first_error,
        "connections_opened": pool.opened,
        "scheduler_max_lag_ms": lag * 1000,
        "latency_ms": _summary(record.latencies),
        "service_ms": _summary(record.service),
    }


async def closed_loop(args: argparse.Namespace) -> dict[str, object]:
    """`count` requests, `concurrency` at a time."""
    requests = _requests(args, args.count)
    pool = Pool(args.host, args.port, args.concurrency)
    record = Recorder()
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)

    async def client() -> None:
        while not queue.empty():
            request = queue.get_nowait()
            await _one(pool, request, time.perf_counter(), args.timeout, record)

    start = time.perf_counter()
    async with asyncio.timeout(args.timeout + args.count):  # generous, still bounded
        await asyncio.gather(*(client() for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - start
    await pool.close()
    return {
        "mode": "closed",
        "sent": args.count,
        "elapsed_s": elapsed,
        "achieved_rate": sum(record.statuses.values()) / elapsed,
        "statuses": dict(record.statuses),
        "first_error": record.first_error,
        "latency_ms": _summary(record.latencies),
    }


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (uvicorn[standard] brings it), like the server."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: list[str] | None = None) -> None:
    """Run one load and print its JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "localhost"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/v1/invoices")
    parser.add_argument("--key", required=True, help="the API key")
    parser.add_argument("--body-file", required=True, help='JSON {"prefix": ..., "suffix": ...}')
    parser.add_argument("--tag", default="OL", help="invoice numbers are <tag>-<n>")
    parser.add_argument("--idempotency-keys", action="store_true")
    parser.add_argument("--timeout", type=float, default=10.0, help="per request, seconds")
    parser.add_argument("--rate", type=float, help="open loop: requests per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="open loop: duration")
    parser.add_argument("--max-connections", type=int, default=64, help="open loop")
    parser.add_argument("--count", type=int, help="closed loop: how many requests")
    parser.add_argument("--concurrency", type=int, default=16, help="closed loop")
    args = parser.parse_args(argv)
    if (args.rate is None) == (args.count is None):
        parser.error("give --rate (open loop) or --count (closed loop)")
    if args.rate is not None and not 0 < args.rate * args.seconds <= 1_000_000:
        parser.error("--rate x --seconds must be between 1 and 1,000,000 requests")
    if args.count is not None and not 0 < args.count <= 1_000_000:
        parser.error("--count must be between 1 and 1,000,000")
    run = open_loop if args.rate is not None else closed_loop
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        result = runner.run(run(args))
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
