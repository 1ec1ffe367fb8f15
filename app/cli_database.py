"""What the `gateway` commands that use the database share: migrating first, one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import create_engine, create_sessionmaker
from app.db.migrations import upgrade_to_head
from app.errors import GatewayError
from app.settings import Settings

T = TypeVar("T")


def migrate_if_configured(settings: Settings) -> None:
    """Commands that use the database bring it to head first (DATABASE_MIGRATE_ON_START)."""
    if settings.database.migrate_on_start:
        upgrade_to_head(settings.database.url)


def in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed transaction; a GatewayError becomes a usage error."""

    async def run() -> T:
        engine = create_engine(settings.database)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except GatewayError as exc:
        raise typer.BadParameter(exc.detail or exc.title) from exc
