"""Liveness, readiness and the detailed health report."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.auth.dependencies import BearerDep, get_optional_caller
from app.auth.service import Caller
from app.db.base import utc_now
from app.db.session import SessionmakerDep
from app.dependencies import ResourcesDep
from app.errors import NotReady
from app.health.service import (
    NO_STRUCTURE,
    STRUCTURE_PAUSED,
    BlockedInvoice,
    blocked_invoices,
    check_readiness,
    expiring_passwords,
    failed_invoices,
    outbox_backlog,
    paused_structures,
    recent_workers,
)
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
    resources: ResourcesDep, caller: Annotated[Caller | None, Depends(_viewer)]
) -> JSONResponse:
    """Status and named checks; with an operator key also backlog, workers, Chorus, structures.

    Without one the answer names no supplier, host or URL: it is safe to expose to a load
    balancer. A key that is not valid is 401 (a typo should not look like a public answer).
    """
    body = await _report(resources)
    status_code = 200 if body["status"] == "ok" else 503
    if caller is None or not caller.is_operator:
        body = {"status": body["status"], "checks": body["checks"]}
    return JSONResponse(body, status_code=status_code)


async def _report(resources: ResourcesDep) -> dict[str, Any]:
    readiness = await check_readiness(resources.engine, resources.head_revision)
    settings = resources.settings
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
            "target": settings.chorus.target,
            "api_url": settings.chorus.resolved_api_url,
            "last_success_at": _iso(resources.chorus.last_success_at),
        },
    }
    if not readiness.ready:
        return body
    heartbeat = timedelta(seconds=settings.outbox.heartbeat_seconds)
    now = utc_now()
    async with resources.sessionmaker() as session:
        backlog = await outbox_backlog(session, now)
        failed = await failed_invoices(session)
        blocked = await blocked_invoices(session)
        workers = await recent_workers(session, alive_within=heartbeat * 3, now=now)
        paused = await paused_structures(session)
        expiring = await expiring_passwords(session, now)
    seen_success = [w.last_chorus_success_at for w in workers if w.last_chorus_success_at]
    if resources.chorus.last_success_at:
        seen_success.append(resources.chorus.last_success_at)
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
