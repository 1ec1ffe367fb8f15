"""Turning a lost race on a unique key into the caller's 409, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import GatewayError

_PG_UNIQUE_VIOLATION = "23505"
_SQLITE_UNIQUE_VIOLATIONS = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})


def is_unique_violation(error: IntegrityError) -> bool:
    """Whether `error` is a duplicate key (not a NOT NULL, foreign key or check failure)."""
    driver_error = error.orig
    if getattr(driver_error, "sqlstate", None) == _PG_UNIQUE_VIOLATION:
        return True
    if isinstance(driver_error, sqlite3.IntegrityError):
        return driver_error.sqlite_errorname in _SQLITE_UNIQUE_VIOLATIONS
    return False


async def flush_or_conflict(session: AsyncSession, conflict: GatewayError) -> None:
    """Flush; a duplicate key raises `conflict` (a 409) instead of the driver's error.

    A check-then-insert cannot stop two requests racing on one key: the loser's INSERT is what
    fails, here, inside its own transaction, which the request's unit of work then rolls back.
    """
    try:
        await session.flush()
    except IntegrityError as exc:
        if is_unique_violation(exc):
            raise conflict from exc
        raise
