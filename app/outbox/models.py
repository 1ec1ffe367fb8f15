"""The transactional outbox: work to do after a commit, claimed by workers under leases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, utc_now
from app.db.types import BigIntegerKey


class OutboxItem(Base):
    """One unit of outbound work (deliver an invoice, sync its status, send a webhook)."""

    __tablename__ = "outbox_item"
    __table_args__ = (Index("ix_outbox_item_state_next_attempt_at", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    # Kept as a column, not in the payload, though only invoice work sets it: the worker reads
    # the invoices of the items it claimed in one query, an attachment may be added only while
    # no delivery attempt has begun, and the console lists an invoice's work (all by index).
    invoice_id: Mapped[str | None] = mapped_column(ForeignKey("invoice.id"), index=True)
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utc_now)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class WorkerHeartbeat(Base):
    """A worker process, as last seen: health shows who is alive and when Chorus last answered."""

    __tablename__ = "worker_heartbeat"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utc_now)
    seen_at: Mapped[datetime] = mapped_column(default=utc_now)
    stopped_at: Mapped[datetime | None]
    last_chorus_success_at: Mapped[datetime | None]
