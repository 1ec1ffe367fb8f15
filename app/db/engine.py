"""Building the async engine for SQLite or PostgreSQL, and the session factory."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from app.settings import DatabaseSettings


def is_sqlite(url: str) -> bool:
    """Whether `url` names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    """An engine tuned for its backend.

    Both hide SQL parameters from errors and tracebacks: they hold invoice data and password
    ciphertexts, and an error may be logged or shown.
    """
    if is_sqlite(settings.url):
        engine = create_async_engine(
            settings.url,
            echo=settings.echo,
            hide_parameters=True,
            connect_args={"timeout": 30},
        )
        _make_sqlite_transactions_immediate(engine)
        return engine
    return create_async_engine(
        settings.url,
        echo=settings.echo,
        hide_parameters=True,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_size,
        # A ping per checkout costs a round trip per transaction; a dropped connection is
        # detected by the failing statement instead and the pool is invalidated then.
        pool_pre_ping=settings.pool_pre_ping,
        pool_recycle=1800,
    )


def _make_sqlite_transactions_immediate(engine: AsyncEngine) -> None:
    """Take SQLite's write lock at BEGIN.

    A deferred transaction that reads then writes fails at once with "database is locked" when
    another process wrote in between; BEGIN IMMEDIATE waits for the lock instead (SQLite's one
    writer at a time is the embedded default's concurrency model).
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
