"""Liveness, readiness and the detailed health report."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.dependencies import ResourcesDep
from app.health.service import check_readiness, outbox_backlog

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
    """Readiness plus the outbox backlog and the Chorus Pro target."""
    readiness = await check_readiness(resources.engine, resources.head_revision)
    body: dict[str, Any] = {
        "status": "ok" if readiness.ready else "not_ready",
        "database": {"ok": readiness.database_ok, "error": readiness.error},
        "migrations": {
            "current": readiness.current_revision,
            "head": readiness.head_revision,
            "at_head": readiness.schema_at_head,
        },
        "chorus": {
            "target": resources.settings.chorus.target,
            "api_url": resources.settings.chorus.resolved_api_url,
        },
    }
    if readiness.ready:
        backlog = await outbox_backlog(resources.sessionmaker)
        body["outbox"] = {
            "pending": backlog.pending,
            "oldest_due_age_seconds": backlog.oldest_due_age_seconds,
            "failed": backlog.failed,
        }
    return JSONResponse(body, status_code=200 if readiness.ready else 503)
