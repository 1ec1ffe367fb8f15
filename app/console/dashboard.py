"""What the dashboard shows, gathered from the health service and the console's queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.console import queries
from app.console.chart import hourly_svg
from app.health import service as health
from app.invoices.models import Invoice
from app.outbox.models import WorkerHeartbeat
from app.settings import OutboxSettings
from app.structures.models import SupplierStructure


@dataclass(frozen=True, slots=True)
class WorkerRow:
    """A worker as seen by its heartbeat."""

    id: str
    seen_at: datetime
    alive: bool
    last_chorus_success_at: datetime | None


@dataclass
class Dashboard:
    """Everything on the dashboard; operator-only parts stay empty for client keys."""

    counts: dict[str, dict[str, int]]
    chart_svg: str
    accepted_48h: int
    delivered_48h: int
    last_status: Invoice | None
    operator: bool
    backlog: dict[str, health.Backlog] = field(default_factory=dict)
    oldest_age_seconds: float | None = None
    pending_total: int = 0
    failed_invoices: int = 0
    blocked: list[health.BlockedInvoice] = field(default_factory=list)
    paused: list[SupplierStructure] = field(default_factory=list)
    expiring: list[SupplierStructure] = field(default_factory=list)
    workers: list[WorkerRow] = field(default_factory=list)
    last_chorus_success_at: datetime | None = None


async def build_dashboard(
    session: AsyncSession,
    *,
    suppliers: frozenset[str] | None,
    now: datetime,
    outbox: OutboxSettings,
    chorus_last_success_at: datetime | None,
) -> Dashboard:
    """The dashboard for a viewer seeing `suppliers` (None: an operator, who sees everything).

    `chorus_last_success_at` is this process's last Chorus success; workers report theirs.
    """
    counts = {
        name: await queries.counts_since(session, since, suppliers)
        for name, since in queries.windows(now).items()
    }
    series = await queries.hourly(session, now, suppliers)
    board = Dashboard(
        counts=counts,
        chart_svg=hourly_svg(series.start, series.accepted, series.delivered),
        accepted_48h=sum(series.accepted),
        delivered_48h=sum(series.delivered),
        last_status=await queries.last_chorus_status(session, now, suppliers),
        operator=suppliers is None,
    )
    if suppliers is not None:
        return board
    board.backlog = await health.outbox_backlog(session, now)
    ages = [b.oldest_due_age_seconds for b in board.backlog.values() if b.oldest_due_age_seconds]
    board.oldest_age_seconds = max(ages, default=None)
    board.pending_total = sum(b.pending for b in board.backlog.values())
    board.failed_invoices = await health.failed_invoices(session)
    board.blocked = await health.blocked_invoices(session)
    board.paused = await health.paused_structures(session)
    board.expiring = await health.expiring_passwords(session, now)
    beat = timedelta(seconds=outbox.heartbeat_seconds) * 3
    heartbeats: list[WorkerHeartbeat] = await health.recent_workers(
        session, alive_within=beat, now=now
    )
    board.workers = [
        WorkerRow(
            w.id,
            w.seen_at,
            w.stopped_at is None and now - w.seen_at <= beat,
            w.last_chorus_success_at,
        )
        for w in heartbeats
    ]
    successes = [w.last_chorus_success_at for w in heartbeats if w.last_chorus_success_at]
    if chorus_last_success_at:
        successes.append(chorus_last_success_at)
    board.last_chorus_success_at = max(successes, default=None)
    return board
