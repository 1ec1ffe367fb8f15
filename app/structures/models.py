"""Supplier structures: the Chorus Pro technical account each supplier SIRET sends with, the
API clients attached to each (members and their principal manager), and its audit list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, JsonDocument, utc_now
from app.db.types import BigIntegerKey


class SupplierStructure(Base):
    """A supplier's Chorus structure and its technical account (password encrypted)."""

    __tablename__ = "supplier_structure"

    siret: Mapped[str] = mapped_column(String(14), primary_key=True)
    login: Mapped[str] = mapped_column(String(200))
    password_ciphertext: Mapped[str] = mapped_column(Text)
    # Chorus's internal id (idStructureCPP), looked up by SIRET once and kept.
    chorus_structure_id: Mapped[int | None] = mapped_column(BigInteger)
    # From Chorus's `dateExpirationMotPasseCompteTech`, read at most daily by the worker.
    password_expires_at: Mapped[datetime | None]
    checked_at: Mapped[datetime | None]
    paused_at: Mapped[datetime | None]
    paused_reason: Mapped[str | None] = mapped_column(Text)
    # The supplier's usual VAT regime (Chorus typeTva), for invoices that do not state one.
    vat_regime: Mapped[str | None] = mapped_column(String(32))
    vat_exemption_reason: Mapped[str | None] = mapped_column(String(255))
    # The supplier's intra-EU VAT number (BT-31), for invoices that do not state one.
    vat_number: Mapped[str | None] = mapped_column(String(20))
    # app.invoices.channels.Channel preferred for this supplier (NULL: CHORUS_DELIVERY_FORMAT).
    delivery_format: Mapped[str | None] = mapped_column(String(16))
    # The registered postal address, the seller's (BG-5) when an invoice gives none.
    address_line1: Mapped[str | None] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(16))
    city: Mapped[str | None] = mapped_column(String(100))
    country_code: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class Membership(Base):
    """An API client's attachment (rattachement) to a supplier structure, or its request."""

    __tablename__ = "structure_membership"
    __table_args__ = (
        UniqueConstraint("structure_siret", "client_id"),
        # One principal manager (gestionnaire principal) per structure, even when two
        # approvals race: the loser's INSERT/UPDATE fails here.
        Index(
            "uq_structure_membership_principal",
            "structure_siret",
            unique=True,
            postgresql_where=text("role = 'principal'"),
            sqlite_where=text("role = 'principal'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    structure_siret: Mapped[str] = mapped_column(ForeignKey("supplier_structure.siret"))
    client_id: Mapped[str] = mapped_column(ForeignKey("api_client.id"), index=True)
    # app.structures.membership_rules.Role: principal | member (principal only while approved).
    role: Mapped[str] = mapped_column(String(16))
    # app.structures.membership_rules.State: pending | approved | refused | detached.
    state: Mapped[str] = mapped_column(String(16))
    # The key was issued by this structure (its principal may rotate or revoke it).
    key_issued: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(String(200))
    requested_at: Mapped[datetime | None]
    # When the current state was reached (approved, refused or detached).
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class StructureAudit(Base):
    """Who changed what in a structure's members, keys or account: the principal's audit list."""

    __tablename__ = "structure_audit"

    seq: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True, autoincrement=True)
    structure_siret: Mapped[str] = mapped_column(String(14), index=True)
    action: Mapped[str] = mapped_column(String(40))
    # The API client that acted; None for the command line (an operator on the host).
    actor_client_id: Mapped[str | None] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(120))
    subject_client_id: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    at: Mapped[datetime] = mapped_column(default=utc_now)
