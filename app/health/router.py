"""Liveness, readiness and the detailed health report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.auth.dependencies import BearerDep, get_optional_caller
from app.auth.service import Caller
from app.db.session import SessionDep, SessionmakerDep
from app.dependencies import ResourcesDep
from app.errors import NotReady
from app.health.service import check_readiness, health_report
from app.problems import problem_responses

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


_HEALTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`status` and `checks` for everyone; the details below them only for an "
        "operator key (`Authorization: Bearer`)."
    },
    **problem_responses(401),
    **_NOT_READY,
}


async def _viewer(
    request: Request,
    sessionmaker: SessionmakerDep,
    resources: ResourcesDep,
    credentials: BearerDep,
) -> Caller | None:
    # With the database down no key can be checked: show the public answer, not an error.
    try:
        return await get_optional_caller(request, sessionmaker, resources, credentials)
    except NotReady:
        return None


@router.get("/health", summary="Health, detailed for operators", responses=_HEALTH_RESPONSES)
async def health(
    resources: ResourcesDep,
    session: SessionDep,
    caller: Annotated[Caller | None, Depends(_viewer)],
) -> JSONResponse:
    """Status and named checks; with an operator key also backlog, workers, Chorus, structures.

    Without one the answer names no supplier, host or URL: it is safe to expose to a load
    balancer. A key that is not valid is 401 (a typo should not look like a public answer).
    """
    body = await health_report(
        session,
        resources.engine,
        resources.head_revision,
        chorus=resources.settings.chorus,
        chorus_last_success_at=resources.chorus.last_success_at,
        heartbeat_seconds=resources.settings.outbox.heartbeat_seconds,
    )
    status_code = 200 if body["status"] == "ok" else 503
    if caller is None or not caller.is_operator:
        body = {"status": body["status"], "checks": body["checks"]}
    return JSONResponse(body, status_code=status_code)
