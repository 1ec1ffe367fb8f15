"""The API's `/metrics` endpoint: this process's counters plus gauges read from the database."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select

from app.db.base import utc_now
from app.dependencies import ResourcesDep
from app.health.service import outbox_backlog
from app.invoices.models import Invoice
from app.metrics_registry import INVOICES, OUTBOX_FAILED, OUTBOX_OLDEST_AGE, OUTBOX_PENDING

router = APIRouter(tags=["health"])


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(resources: ResourcesDep) -> Response:
    """The process's counters plus the database's outbox and invoice gauges."""
    now = utc_now()
    async with resources.sessionmaker() as session:
        backlog = await outbox_backlog(session, now)
        by_status = (
            await session.execute(select(Invoice.status, func.count()).group_by(Invoice.status))
        ).all()
    for kind, item in backlog.items():
        OUTBOX_PENDING.labels(kind).set(item.pending)
        OUTBOX_FAILED.labels(kind).set(item.failed)
        OUTBOX_OLDEST_AGE.labels(kind).set(item.oldest_due_age_seconds or 0)
    counts = dict(by_status)
    for status in ("queued", "submitted", "rejected", "paid", "failed"):
        INVOICES.labels(status).set(counts.get(status, 0))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
