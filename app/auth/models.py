"""API clients: who may call the gateway, with which scopes, for which suppliers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, JsonDocument, utc_now


class ApiClient(Base):
    """One ERP or service, holding one API key (only its hash is kept)."""

    __tablename__ = "api_client"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JsonDocument)
    supplier_sirets: Mapped[list[str]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    revoked_at: Mapped[datetime | None]
    # After this moment the key is refused (None: never expires).
    expires_at: Mapped[datetime | None]
    rotated_at: Mapped[datetime | None]
