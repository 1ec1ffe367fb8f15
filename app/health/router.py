"""Liveness, readiness and the detailed health report."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.db.base import utc_now
from app.dependencies import ResourcesDep
from app.health.service import (
    check_readiness,
    expiring_passwords,
    failed_invoices,
    outbox_backlog,
    paused_structures,
    recent_workers,
)

router = APIRouter(tags=["health"])


class Live(BaseModel):
    """The process answers."""

    status: str = "ok"


@router.get("/health/live", response_model=Live, summary="Liveness")
async def live() -> Live:
    """The process is up (no dependency is checked)."""
    return Live()


_NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"description": "Database unreachable or schema behind the code."}
}


@router.get("/health/ready", summary="Readiness", responses=_NOT_READY)
async def ready(resources: ResourcesDep) -> JSONResponse:
    """Database reachable and migrations at head; 503 otherwise."""
    readiness = await check_readiness(resources.engine, resources.head_revision)
    body = {
        "status": "ready" if readiness.ready else "not_ready",
        "database": "ok" if readiness.database_ok else "unreachable",
        "migrations": {
            "current": readiness.current_revision,
            "head": readiness.head_revision,
            "at_head": readiness.schema_at_head,
        },
    }
    return JSONResponse(body, status_code=200 if readiness.ready else 503)


@router.get("/health", summary="Detailed health", responses=_NOT_READY)
async def health(resources: ResourcesDep) -> JSONResponse:
    """Readiness, outbox backlog, failed invoices, workers, Chorus link and paused structures."""
    readiness = await check_readiness(resources.engine, resources.head_revision)
    settings = resources.settings
    body: dict[str, Any] = {
        "status": "ok" if readiness.ready else "not_ready",
        "database": {"ok": readiness.database_ok, "error": readiness.error},
        "migrations": {
            "current": readiness.current_revision,
            "head": readiness.head_revision,
            "at_head": readiness.schema_at_head,
        },
        "chorus": {
            "target": settings.chorus.target,
            "api_url": settings.chorus.resolved_api_url,
            "last_success_at": _iso(resources.chorus.last_success_at),
        },
    }
    if not readiness.ready:
        return JSONResponse(body, status_code=503)
    heartbeat = timedelta(seconds=settings.outbox.heartbeat_seconds)
    now = utc_now()
    async with resources.sessionmaker() as session:
        backlog = await outbox_backlog(session, now)
        failed = await failed_invoices(session)
        workers = await recent_workers(session, alive_within=heartbeat * 3, now=now)
        paused = await paused_structures(session)
        expiring = await expiring_passwords(session, now)
    seen_success = [w.last_chorus_success_at for w in workers if w.last_chorus_success_at]
    if resources.chorus.last_success_at:
        seen_success.append(resources.chorus.last_success_at)
    body["chorus"]["last_success_at"] = _iso(max(seen_success, default=None))
    body["outbox"] = {kind: asdict(item) for kind, item in backlog.items()}
    body["invoices"] = {"failed": failed}
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
    body["warnings"] = [
        f"technical account of {s.siret} is paused: {s.paused_reason}" for s in paused
    ] + [
        f"technical account password of {s.siret} expires {_iso(s.password_expires_at)}"
        for s in expiring
    ]
    return JSONResponse(body)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
