"""Status events (the pull feed and webhook payloads) and webhook subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, JsonDocument, utc_now
from app.db.types import BigIntegerKey


class Event(Base):
    """One status change, written in the same transaction as the change itself."""

    __tablename__ = "event"
    __table_args__ = (
        Index(
            "ix_event_unpublished",
            "seq",
            postgresql_where=text("position IS NULL"),
            sqlite_where=text("position IS NULL"),
        ),
    )

    # Insertion order. On PostgreSQL transactions commit out of this order, so the feed does not
    # page by it: see `position`.
    seq: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True, autoincrement=True)
    # The feed's order, `GET /v1/events?after=<position>`: given to committed events in the order
    # they are found, so an event that commits late is placed after those already read.
    position: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # The Standard Webhooks `webhook-id`: consumers de-duplicate on it.
    id: Mapped[str] = mapped_column(String(32), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    invoice_id: Mapped[str | None] = mapped_column(ForeignKey("invoice.id"), index=True)
    supplier_siret: Mapped[str | None] = mapped_column(String(14), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class WebhookSubscription(Base):
    """An endpoint that receives signed events."""

    __tablename__ = "webhook_subscription"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    # The signing secret (`whsec_...`), encrypted at rest like technical-account passwords.
    secret_ciphertext: Mapped[str] = mapped_column(Text)
    # Empty: every event type.
    event_types: Mapped[list[str]] = mapped_column(JsonDocument)
    description: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    disabled_at: Mapped[datetime | None]
