"""A structure's audit list: every change to its members, keys and account, also as an event."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import Caller
from app.db.base import utc_now
from app.db.types import new_id
from app.events.models import Event
from app.events.types import EventType
from app.events.work import EventWork
from app.outbox.service import enqueue
from app.structures.models import StructureAudit


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts on a structure: an operator (API key or command line) or its principal."""

    client_id: str | None
    name: str
    is_operator: bool

    @classmethod
    def of(cls, caller: Caller) -> Actor:
        """The actor behind an API caller."""
        return cls(caller.client_id, caller.name, caller.is_operator)


# The `gateway structures …` verbs: whoever can run them on the host is an operator.
COMMAND_LINE = Actor(None, "command line", is_operator=True)


async def record_change(
    session: AsyncSession,
    siret: str,
    action: EventType,
    actor: Actor,
    *,
    subject_client_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> StructureAudit:
    """Add an audit entry and the matching event (fanned out to webhooks) to the transaction."""
    now = utc_now()
    detail = to_jsonable_python(detail) if detail else None
    entry = StructureAudit(
        structure_siret=siret,
        action=str(action),
        actor_client_id=actor.client_id,
        actor=actor.name[:120],
        subject_client_id=subject_client_id,
        detail=detail,
        at=now,
    )
    session.add(entry)
    # Same envelope as invoice events (`invoice` is null), so feed readers keep one shape.
    event = Event(
        id=new_id("evt_"),
        type=str(action),
        invoice_id=None,
        supplier_siret=siret,
        data={
            "invoice": None,
            "structure": {"siret": siret},
            "detail": {
                "actor": {"client_id": actor.client_id, "name": actor.name},
                "client_id": subject_client_id,
                **(detail or {}),
            },
        },
        created_at=now,
    )
    session.add(event)
    enqueue(session, EventWork.FAN_OUT, payload={"event_id": event.id})
    await session.flush()
    return entry


async def audit_after(
    session: AsyncSession, siret: str, *, after: int, limit: int
) -> Sequence[StructureAudit]:
    """Up to `limit` entries of structure `siret` after position `after`, oldest first."""
    # Every audited change first locks the structure's row, so per structure the order of
    # `seq` is the order of commits and paging by it never skips an entry.
    query = (
        select(StructureAudit)
        .where(StructureAudit.structure_siret == siret, StructureAudit.seq > after)
        .order_by(StructureAudit.seq)
        .limit(limit)
    )
    return (await session.scalars(query)).all()
