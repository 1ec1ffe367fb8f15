"""Time `app.outbox.claim.claim_due` against a database, from its own process.

    python -m bench.claim_probe --url postgresql+asyncpg://... --calls 200 --limit 16

Each call is what a worker does once per loop: lease up to `--limit` due items in one short
transaction. After each timed call the items are given back (lease cleared, attempt not counted)
in an untimed statement, so every call sees the same backlog. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import timedelta

from sqlalchemy import update

from bench.common import percentile


async def probe(url: str, calls: int, limit: int) -> dict[str, object]:
    """`calls` timed claims; latency summary in milliseconds."""
    from app.db.engine import create_engine, create_sessionmaker
    from app.outbox.claim import claim_due
    from app.outbox.models import OutboxItem
    from app.settings import DatabaseSettings

    engine = create_engine(DatabaseSettings(url=url, migrate_on_start=False))
    sessionmaker = create_sessionmaker(engine)
    latencies: list[float] = []
    claimed_counts: list[int] = []
    try:
        for i in range(calls + 10):
            started = time.perf_counter()
            claimed = await claim_due(
                sessionmaker, owner="bench-probe", limit=limit, lease=timedelta(seconds=90)
            )
            elapsed = time.perf_counter() - started
            if i >= 10:  # the first calls warm the pool and the statement caches
                latencies.append(elapsed * 1000)
                claimed_counts.append(len(claimed))
            if claimed:
                async with sessionmaker() as session, session.begin():
                    await session.execute(
                        update(OutboxItem)
                        .where(OutboxItem.id.in_([item.id for item in claimed]))
                        .values(
                            lease_owner=None, lease_until=None, attempts=OutboxItem.attempts - 1
                        )
                    )
    finally:
        await engine.dispose()
    ordered = sorted(latencies)
    return {
        "calls": len(ordered),
        "claimed_per_call": sum(claimed_counts) / max(len(claimed_counts), 1),
        "p50_ms": percentile(ordered, 0.5),
        "p99_ms": percentile(ordered, 0.99),
        "max_ms": ordered[-1] if ordered else 0.0,
    }


def main() -> None:
    """Parse, probe, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the gateway's DATABASE_URL")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--limit", type=int, default=16, help="OUTBOX_BATCH_SIZE")
    args = parser.parse_args()
    if not 1 <= args.calls <= 100_000:
        parser.error("--calls must be within 1..100000")
    json.dump(asyncio.run(probe(args.url, args.calls, args.limit)), sys.stdout)
    print()


if __name__ == "__main__":
    main()
