"""Putting work in the outbox, inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utc_now
from app.outbox.models import OutboxItem


class OutboxState(StrEnum):
    """Where an outbox item is in its life."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


def outbox_row(
    kind: str,
    *,
    invoice_id: str | None = None,
    payload: dict[str, Any] | None = None,
    due_at: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The column values of a new outbox item (its key is made by the database)."""
    now = now or utc_now()
    return {
        "kind": str(kind),
        "invoice_id": invoice_id,
        "payload": payload or {},
        "state": str(OutboxState.PENDING),
        "attempts": 0,
        "next_attempt_at": due_at or now,
        "created_at": now,
        "updated_at": now,
    }


def enqueue(
    session: AsyncSession,
    kind: str,
    *,
    invoice_id: str | None = None,
    payload: dict[str, Any] | None = None,
    due_at: datetime | None = None,
) -> OutboxItem:
    """Add an item to the caller's transaction: it exists if and only if that commits."""
    item = OutboxItem(**outbox_row(kind, invoice_id=invoice_id, payload=payload, due_at=due_at))
    session.add(item)
    return item
