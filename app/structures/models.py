"""Supplier structures: the Chorus Pro technical account each supplier SIRET sends with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, utc_now


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
