"""What the health endpoints report: database, schema, outbox backlog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.base import utc_now
from app.db.migrations import current_revision
from app.outbox.models import OutboxItem
from app.outbox.service import OutboxState


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether requests can be served, and why not."""

    database_ok: bool
    current_revision: str | None
    head_revision: str | None
    error: str | None = None

    @property
    def schema_at_head(self) -> bool:
        """Whether the database schema is the one the code expects."""
        return self.current_revision is not None and self.current_revision == self.head_revision

    @property
    def ready(self) -> bool:
        """Database reachable and schema current."""
        return self.database_ok and self.schema_at_head


async def check_readiness(engine: AsyncEngine, head_revision: str | None) -> Readiness:
    """Reach the database and read its schema revision."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        revision = await current_revision(engine)
    except (SQLAlchemyError, OSError) as exc:
        return Readiness(False, None, head_revision, error=type(exc).__name__)
    return Readiness(True, revision, head_revision)


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    """Outbox items still to do, the age of the oldest due one, and those given up."""

    pending: int
    oldest_due_age_seconds: float | None
    failed: int


async def outbox_backlog(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime | None = None
) -> OutboxBacklog:
    """Count the outbox by state."""
    now = now or utc_now()
    async with sessionmaker() as session:
        pending, oldest = (
            await session.execute(
                select(func.count(), func.min(OutboxItem.next_attempt_at)).where(
                    OutboxItem.state == OutboxState.PENDING
                )
            )
        ).one()
        failed = await session.scalar(
            select(func.count()).where(OutboxItem.state == OutboxState.FAILED)
        )
    oldest_age = None
    if oldest is not None:
        oldest_at = oldest if oldest.tzinfo else oldest.replace(tzinfo=now.tzinfo)
        oldest_age = max(0.0, (now - oldest_at).total_seconds())
    return OutboxBacklog(
        pending=int(pending), oldest_due_age_seconds=oldest_age, failed=int(failed or 0)
    )
