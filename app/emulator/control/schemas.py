"""Bodies and answers of the control API (English names: this is not the Chorus wire)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.emulator.lifecycle import INVOICE_STATUSES, NEEDS_REASON


class StatusEventOut(BaseModel):
    """One history entry."""

    id: int
    code: str
    at: datetime
    comment: str | None


class AttachmentOut(BaseModel):
    """A file that came with an invoice (its content is not kept, its digest is)."""

    name: str
    size: int
    sha256: str
    kind: Literal["principal", "complementary"]
    mime_type: str | None


class InvoiceOut(BaseModel):
    """One received invoice as the control API shows it."""

    id: int
    supplier_siret: str
    supplier_id: int
    # Chorus's number, and the one the sender gave (they differ when Chorus numbers SAISIE_API).
    number: str
    sender_number: str | None
    type: str
    mode: str
    status: str
    status_at: datetime
    comment: str | None
    recipient_siret: str
    service_code: str | None
    deposit_date: date
    received_at: datetime
    history: list[StatusEventOut]
    # The deposer/flux deposit it came in, for `mode` EDI.
    flux_id: str | None = None
    # Whether its PDF carries a signature dictionary, as detected, whatever `mode` says.
    signed_pdf: bool = False
    attachments: list[AttachmentOut] = Field(default_factory=list)


class InvoiceList(BaseModel):
    """Everything received, with the counts the "exactly once" checks need."""

    lifecycle_mode: str
    total: int
    counts_by_supplier: dict[str, int]
    duplicates_refused: int
    duplicates_refused_by_supplier: dict[str, int]
    invoices: list[InvoiceOut]


class FluxErrorOut(BaseModel):
    """One `listeErreurDP` entry."""

    number: str | None
    supplier_siret: str | None
    recipient_siret: str | None
    reason: str


class FluxOut(BaseModel):
    """One deposer/flux deposit and where its processing is."""

    number: str
    login: str
    file_name: str
    syntax: str
    size: int
    sha256: str
    state: str
    state_at: datetime
    deposited_at: datetime
    processing_at: datetime
    # `avecSignature` as deposited.
    with_signature: bool
    document_numbers: list[str | None]
    errors: list[FluxErrorOut]
    invoice_ids: list[int]


class StatusChange(BaseModel):
    """A buyer action: move an invoice to `statut` (with a `motif` for REJETEE/SUSPENDUE)."""

    model_config = ConfigDict(extra="forbid")

    statut: str
    motif: str | None = None

    @field_validator("statut")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in INVOICE_STATUSES:
            raise ValueError(f"unknown Chorus invoice status {value!r}")
        return value

    @model_validator(mode="after")
    def _reason_when_needed(self) -> StatusChange:
        if self.statut in NEEDS_REASON and not (self.motif and self.motif.strip()):
            raise ValueError(f"a motif is mandatory for {self.statut}")
        return self


class PasswordChange(BaseModel):
    """A new password (and optionally expiry) for a technical account."""

    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1)
    password_expires_at: datetime | None = None


class ClockAdvance(BaseModel):
    """How far to move the emulator's clock."""

    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(ge=0)


class ClockOut(BaseModel):
    """The emulator's current instant."""

    now: datetime


class AccountOut(BaseModel):
    """A technical account without its password."""

    login: str
    password_expires_at: datetime | None


class StructureOut(BaseModel):
    """A directory entry as `GET /_emulator/structures` lists it (passwords left out)."""

    id: int
    identifier: str
    identifier_type: str
    designation: str
    role: str
    public: bool
    active: bool
    service_required: bool
    ej_required: bool
    ej_or_service_required: bool
    services: list[dict[str, object]]
    technical_account: AccountOut | None
