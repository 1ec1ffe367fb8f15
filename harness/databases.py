"""Databases for a run: a fresh PostgreSQL database, created and dropped, or a SQLite file."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import asyncpg  # type: ignore[import-untyped]

Backend = Literal["sqlite", "postgresql"]
# libpq URL of a PostgreSQL database the benchmarks may connect to in order to CREATE/DROP others
# (the chaos cluster takes TEST_POSTGRES_URL instead: see `harness.cluster`).
BENCH_ADMIN_DSN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _admin(admin_dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(admin_dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def create_postgres_database(admin_dsn: str, prefix: str) -> tuple[str, str]:
    """CREATE DATABASE `<prefix>_<random>` on `admin_dsn`'s server (libpq URL); (name, dsn)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await _admin(admin_dsn, f'CREATE DATABASE "{name}"')
    base, _, _ = admin_dsn.rpartition("/")
    return name, f"{base}/{name}"


async def drop_postgres_database(admin_dsn: str, name: str) -> None:
    """DROP DATABASE `name`, even with sessions still connected."""
    await _admin(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Database:
    """A fresh PostgreSQL database, or a SQLite file in the work directory, used synchronously."""

    backend: Backend
    app_url: str  # for the gateway (SQLAlchemy URL)
    dsn: str | None = None  # PostgreSQL only: for asyncpg
    name: str | None = None
    sqlite_path: Path | None = None
    admin_dsn: str | None = None

    @classmethod
    def create(
        cls,
        backend: Backend,
        workdir: Path,
        admin_dsn: str = BENCH_ADMIN_DSN,
        prefix: str = "bench",
    ) -> Database:
        """A new, empty database."""
        if backend == "sqlite":
            path = workdir / "gateway.db"
            return cls(backend, f"sqlite+aiosqlite:///{path}", sqlite_path=path)
        name, dsn = asyncio.run(create_postgres_database(admin_dsn, prefix))
        app_url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
        return cls(backend, app_url, dsn=dsn, name=name, admin_dsn=admin_dsn)

    def drop(self) -> None:
        """Drop it (PostgreSQL); the SQLite file goes with the work directory."""
        if self.name is not None and self.admin_dsn is not None:
            asyncio.run(drop_postgres_database(self.admin_dsn, self.name))
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
