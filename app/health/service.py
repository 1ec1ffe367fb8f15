"""What the health endpoints report: database, schema, outbox backlog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.base import utc_now
from app.db.migrations import current_revision
from app.domain.lifecycle import InvoiceStatus
from app.invoices.models import Invoice
from app.outbox.models import OutboxItem, WorkerHeartbeat
from app.outbox.service import OutboxKind, OutboxState
from app.structures.models import SupplierStructure


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
class Backlog:
    """One outbox kind's pending items, the age of the oldest due one, and those given up."""

    pending: int
    oldest_due_age_seconds: float | None
    failed: int


async def outbox_backlog(session: AsyncSession, now: datetime | None = None) -> dict[str, Backlog]:
    """The outbox by kind (every kind the gateway knows, even when empty)."""
    now = now or utc_now()
    rows = (
        await session.execute(
            select(
                OutboxItem.kind,
                OutboxItem.state,
                func.count(),
                func.min(OutboxItem.next_attempt_at),
            )
            .where(OutboxItem.state.in_([OutboxState.PENDING, OutboxState.FAILED]))
            .group_by(OutboxItem.kind, OutboxItem.state)
        )
    ).all()
    counts: dict[tuple[str, str], tuple[int, datetime | None]] = {
        (kind, state): (int(count), oldest) for kind, state, count, oldest in rows
    }
    backlog = {}
    for kind in OutboxKind:
        pending, oldest = counts.get((kind, OutboxState.PENDING), (0, None))
        failed, _ = counts.get((kind, OutboxState.FAILED), (0, None))
        age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else None
        backlog[str(kind)] = Backlog(pending=pending, oldest_due_age_seconds=age, failed=failed)
    return backlog


async def failed_invoices(session: AsyncSession) -> int:
    """Invoices the gateway gave up on (an operator can retry them)."""
    return int(
        await session.scalar(
            select(func.count()).select_from(Invoice).where(Invoice.status == InvoiceStatus.FAILED)
        )
        or 0
    )


async def recent_workers(
    session: AsyncSession, *, alive_within: timedelta, now: datetime | None = None
) -> list[WorkerHeartbeat]:
    """Workers seen lately (stopped ones included, so a crash loop shows)."""
    now = now or utc_now()
    return list(
        (
            await session.scalars(
                select(WorkerHeartbeat)
                .where(WorkerHeartbeat.seen_at >= now - alive_within * 30)
                .order_by(WorkerHeartbeat.seen_at.desc())
                .limit(50)
            )
        ).all()
    )


async def paused_structures(session: AsyncSession) -> list[SupplierStructure]:
    """Structures whose deliveries wait for an operator (credentials refused or expired)."""
    return list(
        (
            await session.scalars(
                select(SupplierStructure).where(SupplierStructure.paused_at.is_not(None))
            )
        ).all()
    )


PASSWORD_WARNING = timedelta(days=15)


async def expiring_passwords(
    session: AsyncSession, now: datetime | None = None
) -> list[SupplierStructure]:
    """Structures whose technical password expires within 15 days (or already has)."""
    now = now or utc_now()
    return list(
        (
            await session.scalars(
                select(SupplierStructure)
                .where(SupplierStructure.password_expires_at <= now + PASSWORD_WARNING)
                .order_by(SupplierStructure.password_expires_at)
            )
        ).all()
    )
