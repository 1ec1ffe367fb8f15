"""Tables of the invoices the gateway accepted: the invoice, its lines and its history."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.base import Base, utc_now
from app.db.types import BigIntegerKey, DecimalText


class Invoice(Base):
    """An invoice as accepted, normalized, and followed through Chorus Pro."""

    __tablename__ = "invoice"
    __table_args__ = (
        # The natural key: Chorus refuses a second invoice with the same number for a supplier,
        # and an ERP retrying blindly must never create two.
        UniqueConstraint("supplier_siret", "invoice_number", "type"),
        Index("ix_invoice_supplier_siret_id", "supplier_siret", "id"),
        Index("ix_invoice_status_id", "status", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("api_client.id"))
    status: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(16))
    invoice_number: Mapped[str] = mapped_column(String(20))
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    framework: Mapped[str] = mapped_column(String(64))
    supplier_siret: Mapped[str] = mapped_column(String(14))
    supplier_name: Mapped[str | None] = mapped_column(String(200))
    supplier_vat_number: Mapped[str | None] = mapped_column(String(20))
    buyer_siret: Mapped[str] = mapped_column(String(14))
    buyer_service_code: Mapped[str | None] = mapped_column(String(100))
    buyer_name: Mapped[str | None] = mapped_column(String(200))
    legal_commitment: Mapped[str | None] = mapped_column(String(50))
    preceding_invoice: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    # Chorus codeStructureValideur, for subcontractor (A9) and co-contractor (A12) invoices.
    validator_siret: Mapped[str | None] = mapped_column(String(14))
    # Chorus typeTva as resolved at submission (NULL on invoices stored before it existed).
    vat_regime: Mapped[str | None] = mapped_column(String(32))
    vat_exemption_reason: Mapped[str | None] = mapped_column(String(255))
    # Chorus modePaiement; NULL on credit notes, which carry none.
    payment_means: Mapped[str | None] = mapped_column(String(16))
    payment_iban: Mapped[str | None] = mapped_column(String(34))
    payment_bic: Mapped[str | None] = mapped_column(String(11))
    payment_terms: Mapped[str | None] = mapped_column(Text)
    # Postal addresses as the invoice gave them (NULL: the structure's / the directory's).
    supplier_address_line1: Mapped[str | None] = mapped_column(String(200))
    supplier_address_line2: Mapped[str | None] = mapped_column(String(200))
    supplier_postal_code: Mapped[str | None] = mapped_column(String(16))
    supplier_city: Mapped[str | None] = mapped_column(String(100))
    supplier_country_code: Mapped[str | None] = mapped_column(String(2))
    buyer_address_line1: Mapped[str | None] = mapped_column(String(200))
    buyer_address_line2: Mapped[str | None] = mapped_column(String(200))
    buyer_postal_code: Mapped[str | None] = mapped_column(String(16))
    buyer_city: Mapped[str | None] = mapped_column(String(100))
    buyer_country_code: Mapped[str | None] = mapped_column(String(2))
    # Chorus numeroMarche, EN 16931 BT-12.
    contract_reference: Mapped[str | None] = mapped_column(String(50))
    total_net: Mapped[Decimal] = mapped_column(DecimalText)
    total_vat: Mapped[Decimal] = mapped_column(DecimalText)
    total_gross: Mapped[Decimal] = mapped_column(DecimalText)
    validation_mode: Mapped[str] = mapped_column(String(8))
    # Sent as DEPOT_PDF_API with its PDF (stored in invoice_document) rather than SAISIE_API.
    has_pdf: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    chorus_invoice_id: Mapped[int | None] = mapped_column(BigInteger)
    chorus_flux_number: Mapped[str | None] = mapped_column(String(40))
    # app.invoices.channels.Channel, chosen at submission (NULL before channels existed: the
    # invoice went as SAISIE_API, or DEPOT_PDF_API with its PDF).
    chorus_channel: Mapped[str | None] = mapped_column(String(16))
    # The number Chorus gave the invoice when it differs from ours (SAISIE_API numbers itself).
    chorus_invoice_number: Mapped[str | None] = mapped_column(String(40))
    # Why the gateway gave up on a `failed` invoice (FORMAT_INVALID, AMBIGUOUS_DELIVERY, ...).
    failure_code: Mapped[str | None] = mapped_column(String(32))
    chorus_status: Mapped[str | None] = mapped_column(String(48))
    chorus_status_at: Mapped[datetime | None]
    chorus_rejection: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    lines: Mapped[list[InvoiceLine]] = relationship(
        order_by="InvoiceLine.position", lazy="raise", cascade="all, delete-orphan"
    )
    history: Mapped[list[InvoiceStatusChange]] = relationship(
        order_by="InvoiceStatusChange.id", lazy="raise", cascade="all, delete-orphan"
    )


class InvoiceLine(Base):
    """One line of an invoice, amounts exact."""

    __tablename__ = "invoice_line"

    id: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True, autoincrement=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoice.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(DecimalText)
    unit_price: Mapped[Decimal] = mapped_column(DecimalText)
    vat_rate: Mapped[Decimal] = mapped_column(DecimalText)
    net_amount: Mapped[Decimal] = mapped_column(DecimalText)
    unit: Mapped[str | None] = mapped_column(String(32))
    reference: Mapped[str | None] = mapped_column(String(64))
    # UN/ECE rec 20 (NULL on lines stored before it existed: C62).
    unit_code: Mapped[str | None] = mapped_column(String(3))


class InvoiceDocument(Base):
    """The PDF an ERP uploaded with an invoice (Chorus's "chargement d'un PDF"), or the UBL,
    CII or Factur-X it sent as the invoice, byte for byte."""

    __tablename__ = "invoice_document"

    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoice.id"), primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    # A signed PDF is sent as is (DEPOT_PDF_SIGNE_API, or a signed Factur-X flux), never modified.
    signed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    signer: Mapped[str | None] = mapped_column(String(300))
    signed_at: Mapped[datetime | None]
    # The ERP's own document (`cii`, `ubl`, `facturx`) when the flux deposits these very bytes;
    # NULL for a PDF sent with a JSON invoice, or a document an `invoice` part completed.
    received_syntax: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class InvoiceAttachment(Base):
    """A supporting document sent with an invoice (Chorus's "pièce jointe complémentaire")."""

    __tablename__ = "invoice_attachment"
    __table_args__ = (UniqueConstraint("invoice_id", "position"),)

    id: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True, autoincrement=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoice.id"), index=True)
    # 1, 2, ... in the order received; the `n` of GET /v1/invoices/{id}/attachments/{n}.
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(50))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class DepositedDocument(Base):
    """The exact bytes a flux deposit sent to Chorus Pro for an invoice (what the buyer got)."""

    __tablename__ = "deposited_document"

    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoice.id"), primary_key=True)
    # Chorus's syntaxeFlux (IN_DP_E1_CII_16B, IN_DP_E1_UBL_INVOICE, IN_DP_E2_CII_FACTURX).
    syntax: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    flux_number: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class InvoiceStatusChange(Base):
    """One status change, oldest first; the detail carries Chorus's comment (e.g. a reason)."""

    __tablename__ = "invoice_history"

    id: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True, autoincrement=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoice.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utc_now)
    status: Mapped[str] = mapped_column(String(16))
    chorus_status: Mapped[str | None] = mapped_column(String(48))
    detail: Mapped[str | None] = mapped_column(Text)
