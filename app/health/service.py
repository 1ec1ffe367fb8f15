"""What the health endpoints report: database, schema, outbox backlog, blocked invoices.

Every query here runs on each `/health` call and `/metrics` scrape, so each is bounded: counts
stop at `COUNT_CAP` (a count of `COUNT_CAP` means "at least that many") and walk an index,
lists have a LIMIT.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.base import utc_now
from app.db.migrations import current_revision
from app.domain.lifecycle import InvoiceStatus
from app.events.work import EventWork
from app.invoices.models import Invoice
from app.invoices.work import InvoiceWork
from app.metrics_registry import INVOICES, OUTBOX_FAILED, OUTBOX_OLDEST_AGE, OUTBOX_PENDING
from app.outbox.models import OutboxItem, WorkerHeartbeat
from app.outbox.service import OutboxState
from app.settings import ChorusSettings
from app.structures.models import SupplierStructure

COUNT_CAP = 10_000
LIST_LIMIT = 100

# Every kind of outbox work the features enqueue, listed even when none is waiting.
OUTBOX_KINDS: tuple[str, ...] = (*InvoiceWork, *EventWork)


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


def capped_count(rows: Select[str], cap: int = COUNT_CAP) -> Select[int]:
    """COUNT(*) over at most `cap` rows of `rows`: the database stops reading at the cap."""
    return select(func.count()).select_from(rows.limit(cap).subquery())


async def outbox_backlog(
    session: AsyncSession, now: datetime | None = None, *, cap: int = COUNT_CAP
) -> dict[str, Backlog]:
    """The outbox by kind (every kind the gateway knows, even when empty), counts capped.

    Pending items are read soonest-due first along the (state, next_attempt_at) index, so the
    oldest due item of every kind is among the first `cap` read.
    """
    now = now or utc_now()
    due = (
        select(OutboxItem.kind, OutboxItem.next_attempt_at)
        .where(OutboxItem.state == OutboxState.PENDING)
        .order_by(OutboxItem.next_attempt_at)
        .limit(cap)
        .subquery()
    )
    pending_rows = (
        await session.execute(
            select(due.c.kind, func.count(), func.min(due.c.next_attempt_at)).group_by(due.c.kind)
        )
    ).all()
    given_up = (
        select(OutboxItem.kind).where(OutboxItem.state == OutboxState.FAILED).limit(cap).subquery()
    )
    failed_rows = (
        await session.execute(select(given_up.c.kind, func.count()).group_by(given_up.c.kind))
    ).all()
    pending = {kind: (int(count), oldest) for kind, count, oldest in pending_rows}
    failed = {kind: int(count) for kind, count in failed_rows}
    backlog = {}
    for kind in OUTBOX_KINDS:
        count, oldest = pending.get(kind, (0, None))
        age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else None
        backlog[str(kind)] = Backlog(
            pending=count, oldest_due_age_seconds=age, failed=failed.get(kind, 0)
        )
    return backlog


async def failed_invoices(session: AsyncSession, *, cap: int = COUNT_CAP) -> int:
    """Invoices the gateway gave up on (an operator can retry them), counted up to `cap`."""
    rows = select(Invoice.id).where(Invoice.status == InvoiceStatus.FAILED)
    return int(await session.scalar(capped_count(rows, cap)) or 0)


async def invoices_by_status(
    session: AsyncSession, statuses: list[str], *, cap: int = COUNT_CAP
) -> dict[str, int]:
    """Invoices per status, each counted up to `cap` along the (status, id) index, in one query."""
    counts = [
        capped_count(select(Invoice.id).where(Invoice.status == status), cap).scalar_subquery()
        for status in statuses
    ]
    row = (await session.execute(select(*counts))).one()
    return {status: int(count) for status, count in zip(statuses, row, strict=True)}


@dataclass(frozen=True, slots=True)
class BlockedInvoice:
    """A queued invoice no delivery can take: its supplier's structure is missing or paused."""

    id: str
    supplier_siret: str
    reason: str


NO_STRUCTURE = "no registered structure"
STRUCTURE_PAUSED = "structure paused"


async def blocked_invoices(
    session: AsyncSession, *, scan: int = 1000, limit: int = 20
) -> list[BlockedInvoice]:
    """Blocked invoices among the `scan` oldest queued ones (blocked ones stay queued, so old)."""
    queued = (
        select(Invoice.id, Invoice.supplier_siret)
        .where(Invoice.status == InvoiceStatus.QUEUED)
        .order_by(Invoice.id)
        .limit(scan)
        .subquery()
    )
    rows = (
        await session.execute(
            select(queued.c.id, queued.c.supplier_siret, SupplierStructure.siret)
            .outerjoin(SupplierStructure, SupplierStructure.siret == queued.c.supplier_siret)
            .where(or_(SupplierStructure.siret.is_(None), SupplierStructure.paused_at.is_not(None)))
            .order_by(queued.c.id)
            .limit(limit)
        )
    ).all()
    return [
        BlockedInvoice(invoice_id, siret, NO_STRUCTURE if registered is None else STRUCTURE_PAUSED)
        for invoice_id, siret, registered in rows
    ]


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
                select(SupplierStructure)
                .where(SupplierStructure.paused_at.is_not(None))
                .order_by(SupplierStructure.paused_at)
                .limit(LIST_LIMIT)
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
                .limit(LIST_LIMIT)
            )
        ).all()
    )


async def health_report(
    session: AsyncSession,
    engine: AsyncEngine,
    head_revision: str | None,
    *,
    chorus: ChorusSettings,
    chorus_last_success_at: datetime | None,
    heartbeat_seconds: float,
) -> dict[str, Any]:
    """The detailed `/health` body: named checks, then backlog, workers, Chorus and structures.

    `chorus_last_success_at` is this process's last Chorus success; workers report theirs.
    """
    readiness = await check_readiness(engine, head_revision)
    body: dict[str, Any] = {
        "status": "ok" if readiness.ready else "not_ready",
        "checks": {
            "database": "ok" if readiness.database_ok else "fail",
            "migrations": "ok" if readiness.schema_at_head else "fail",
        },
        "database": {"ok": readiness.database_ok, "error": readiness.error},
        "migrations": {
            "current": readiness.current_revision,
            "head": readiness.head_revision,
            "at_head": readiness.schema_at_head,
        },
        "chorus": {
            "target": chorus.target,
            "api_url": chorus.resolved_api_url,
            "last_success_at": _iso(chorus_last_success_at),
        },
    }
    if not readiness.ready:
        return body
    heartbeat = timedelta(seconds=heartbeat_seconds)
    now = utc_now()
    backlog = await outbox_backlog(session, now)
    failed = await failed_invoices(session)
    blocked = await blocked_invoices(session)
    workers = await recent_workers(session, alive_within=heartbeat * 3, now=now)
    paused = await paused_structures(session)
    expiring = await expiring_passwords(session, now)
    seen_success = [w.last_chorus_success_at for w in workers if w.last_chorus_success_at]
    if chorus_last_success_at:
        seen_success.append(chorus_last_success_at)
    body["chorus"]["last_success_at"] = _iso(max(seen_success, default=None))
    body["outbox"] = {kind: asdict(item) for kind, item in backlog.items()}
    body["invoices"] = {"failed": failed, "blocked": [asdict(invoice) for invoice in blocked]}
    body["workers"] = [
        {
            "id": worker.id,
            "seen_at": _iso(worker.seen_at),
            "alive": worker.stopped_at is None and now - worker.seen_at <= heartbeat * 3,
        }
        for worker in workers
    ]
    body["structures"] = {
        "paused": [
            {"siret": s.siret, "since": _iso(s.paused_at), "reason": s.paused_reason}
            for s in paused
        ],
        "password_expiring": [
            {"siret": s.siret, "expires_at": _iso(s.password_expires_at)} for s in expiring
        ],
    }
    body["warnings"] = (
        [f"technical account of {s.siret} is paused: {s.paused_reason}" for s in paused]
        + [
            f"technical account password of {s.siret} expires {_iso(s.password_expires_at)}"
            for s in expiring
        ]
        + _blocked_warnings(blocked)
    )
    body["checks"].update(
        workers=_check(any(worker["alive"] for worker in body["workers"])),
        outbox=_check(not any(item.failed for item in backlog.values())),
        invoices=_check(not failed and not blocked),
        structures=_check(not paused and not expiring),
    )
    return body


def _blocked_warnings(blocked: list[BlockedInvoice]) -> list[str]:
    by_cause = Counter((invoice.supplier_siret, invoice.reason) for invoice in blocked)
    hint = {NO_STRUCTURE: "gateway structures add", STRUCTURE_PAUSED: "rotate its password"}
    return [
        f"{count} queued invoice(s) of supplier {siret} cannot be delivered: {reason} "
        f"({hint[reason]})"
        for (siret, reason), count in by_cause.items()
    ]


def _check(fine: bool) -> str:
    return "ok" if fine else "warn"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


GAUGED_INVOICE_STATUSES = ["queued", "submitted", "rejected", "paid", "failed"]


async def update_gauges(session: AsyncSession) -> None:
    """Set the outbox and invoice gauges from the database, for a `/metrics` scrape."""
    backlog = await outbox_backlog(session, utc_now())
    counts = await invoices_by_status(session, GAUGED_INVOICE_STATUSES)
    for kind, item in backlog.items():
        OUTBOX_PENDING.labels(kind).set(item.pending)
        OUTBOX_FAILED.labels(kind).set(item.failed)
        OUTBOX_OLDEST_AGE.labels(kind).set(item.oldest_due_age_seconds or 0)
    for status, count in counts.items():
        INVOICES.labels(status).set(count)
