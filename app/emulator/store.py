"""The emulator's state: directory, invoices, attachments, tokens, the duplicate tally.

Every mutation goes through a method here and, when a state file is configured, is written
through at once (a whole snapshot, atomically replaced), so a restarted emulator keeps its
invoices and the "exactly once" ground truth. Ids never repeat, even across restarts without a
state file or after a reset, since counters start at the wall clock (see `id_floor`). Handlers
are `async def` without awaits between reads and writes, so on the single event loop each call
sees and leaves a consistent state.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.emulator.directory import Directory, StructureSpec
from app.emulator.lifecycle import StatusEvent

ID_EPOCH_NS = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000_000


def id_floor() -> int:
    """Microseconds of wall-clock time since 2025: where a new or loaded state's ids start.

    An emulator hands out far fewer than one id per microsecond, so the ids of a restarted (or
    reset) emulator always start above every id the previous one gave, state file or not. It is
    the real clock, not the emulator's (which tests freeze), since restarts happen in real time.
    """
    return (time.time_ns() - ID_EPOCH_NS) // 1000


class InvoiceAttachment(BaseModel):
    """A file that came with an invoice: its PDF (`principal`) or a supporting document."""

    name: str
    size: int
    sha256: str
    kind: Literal["principal", "complementary"]
    mime_type: str | None = None


class InvoiceRecord(BaseModel):
    """One invoice Chorus accepted, with the body it came with and its planned history."""

    id: int
    supplier_id: int
    supplier_identifier: str
    login: str
    number: str
    invoice_type: str
    mode_depot: str
    # The number the sender gave (`numeroFactureSaisi` or the document's), kept even when Chorus
    # numbered the invoice itself: how a test tells which sender invoice a Chorus invoice is.
    sender_number: str | None = None
    recipient_id: int
    recipient_identifier: str
    service_id: int | None
    service_code: str | None
    received_at: datetime
    deposit_date: date
    fingerprint: str
    request: dict[str, Any]
    events: list[StatusEvent]
    # The deposer/flux deposit the invoice came in (None for soumettre).
    flux_id: str | None = None
    # Whether the invoice's PDF (principal attachment, or the Factur-X deposited) carries a PDF
    # signature, as detected, whatever mode it was sent in: Chorus cannot know a signed PDF sent
    # as DEPOT_PDF_API, a test can.
    signed_pdf: bool = False
    attachments: list[InvoiceAttachment] = Field(default_factory=list)


class AttachmentRecord(BaseModel):
    """A file received by ajouter/fichier (its content is not kept, only its digest)."""

    id: int
    name: str
    mime_type: str
    extension: str
    size: int
    sha256: str
    owner_ids: list[int]
    uploaded_at: datetime
    signed_pdf: bool = False


class FluxErrorRecord(BaseModel):
    """One `listeErreurDP` entry: an invoice of a flux that Chorus did not integrate."""

    number: str | None
    supplier_identifier: str | None
    recipient_identifier: str | None
    reason: str


class FluxRecord(BaseModel):
    """A deposer/flux deposit: what came, when, and once processed how it ended.

    The documents (one, or several from a `.tar.gz`) are read at deposit (a malformed one is
    refused then) and what they say is kept in `documents`, `DocumentInvoice` dumps; the business
    rules run at `processing_at`.
    """

    id: int
    number: str
    login: str
    caller_structure_ids: list[int]
    file_name: str
    syntax: str
    size: int
    sha256: str
    deposited_at: datetime
    deposit_date: date
    processing_at: datetime
    documents: list[dict[str, Any]]
    # `avecSignature` as the depositor announced it (not checked against the file).
    with_signature: bool = False
    final_state: str | None = None
    errors: list[FluxErrorRecord] = Field(default_factory=list)
    invoice_ids: list[int] = Field(default_factory=list)


class Snapshot(BaseModel):
    """Everything persisted to the state file."""

    version: int = 1
    next_invoice_id: int = 0
    next_attachment_id: int = 0
    next_event_id: int = 0
    next_flux_id: int = 0
    structures: list[StructureSpec] = Field(default_factory=list)
    invoices: list[InvoiceRecord] = Field(default_factory=list)
    attachments: list[AttachmentRecord] = Field(default_factory=list)
    tokens: dict[str, datetime] = Field(default_factory=dict)
    duplicates_refused: dict[str, int] = Field(default_factory=dict)
    flux: list[FluxRecord] = Field(default_factory=list)


class Store:
    """All mutable state, optionally mirrored to a JSON file."""

    def __init__(self, directory: Directory, state_file: Path | None) -> None:
        self.directory = directory
        self._state_file = state_file
        self._tokens: dict[str, datetime] = {}
        self._restore(Snapshot())

    @classmethod
    def open(
        cls, state_file: Path | None, seed: list[StructureSpec], now: datetime, validity_days: int
    ) -> Store:
        """The state saved in `state_file` if there is one, else a fresh state on `seed`.

        A saved state carries its own directory, which wins over the seed file.
        """
        if state_file is not None and state_file.exists():
            snapshot = Snapshot.model_validate_json(state_file.read_text(encoding="utf-8"))
            store = cls(Directory(snapshot.structures, now, validity_days), state_file)
            store._restore(snapshot)
            return store
        store = cls(Directory(seed, now, validity_days), state_file)
        store._save()
        return store

    def reset(self, directory: Directory) -> None:
        """Forget every invoice, attachment and duplicate; start again on `directory`."""
        # Tokens survive a reset so a running gateway is not logged out between test cases.
        self.directory = directory
        self._restore(Snapshot(tokens=self._tokens))
        self._save()

    # --- tokens --------------------------------------------------------------------------------

    def add_token(self, token: str, expires_at: datetime, now: datetime) -> None:
        """Record an issued token, dropping those already expired."""
        self._tokens = {key: end for key, end in self._tokens.items() if end > now}
        self._tokens[token] = expires_at
        self._save()

    def token_expiry(self, token: str) -> datetime | None:
        """When this token expires, or None if it was never issued or was revoked."""
        return self._tokens.get(token)

    def revoke_tokens(self) -> int:
        """Invalidate every issued token; returns how many."""
        count = len(self._tokens)
        self._tokens = {}
        self._save()
        return count

    # --- directory -----------------------------------------------------------------------------

    def upsert_structure(self, spec: StructureSpec) -> StructureSpec:
        """Add or replace a structure (see `Directory.upsert`)."""
        saved = self.directory.upsert(spec)
        self._save()
        return saved

    def set_password(self, login: str, password: str, expires_at: datetime | None) -> int:
        """Change a technical account's password; returns how many structures it is on."""
        changed = self.directory.set_password(login, password, expires_at)
        self._save()
        return changed

    # --- attachments ---------------------------------------------------------------------------

    def allocate_attachment_id(self) -> int:
        """The next `pieceJointeId`."""
        attachment_id = self._next_attachment_id
        self._next_attachment_id += 1
        return attachment_id

    def add_attachment(self, record: AttachmentRecord) -> None:
        """Record a received attachment."""
        self._attachments[record.id] = record
        self._save()

    def attachments_of(self, structure_ids: frozenset[int]) -> dict[int, AttachmentRecord]:
        """Attachments uploaded for any of these supplier structures, by id."""
        return {
            record.id: record
            for record in self._attachments.values()
            if structure_ids.intersection(record.owner_ids)
        }

    # --- invoices ------------------------------------------------------------------------------

    def allocate_invoice_id(self) -> int:
        """The next `identifiantFactureCPP`."""
        invoice_id = self._next_invoice_id
        self._next_invoice_id += 1
        return invoice_id

    def allocate_event_ids(self, count: int) -> int:
        """Reserve `count` consecutive `histoStatutId`s; returns the first."""
        first = self._next_event_id
        self._next_event_id += count
        return first

    def add_invoice(self, record: InvoiceRecord) -> None:
        """Record an accepted invoice."""
        self._invoices[record.id] = record
        self._save()

    def invoice(self, invoice_id: int) -> InvoiceRecord | None:
        """One invoice by `identifiantFactureCPP`."""
        return self._invoices.get(invoice_id)

    def invoices(self) -> list[InvoiceRecord]:
        """Every invoice, in the order received."""
        return [self._invoices[key] for key in sorted(self._invoices)]

    def find_invoice(
        self, supplier_id: int, number: str, invoice_type: str
    ) -> InvoiceRecord | None:
        """The invoice this supplier already sent under this number and type, if any."""
        return next(
            (
                record
                for record in self._invoices.values()
                if record.supplier_id == supplier_id
                and record.number == number
                and record.invoice_type == invoice_type
            ),
            None,
        )

    def replace_events(self, invoice_id: int, events: list[StatusEvent]) -> InvoiceRecord:
        """Store an invoice's new history."""
        record = self._invoices[invoice_id]
        record.events = events
        self._save()
        return record

    def count_duplicate(self, supplier_identifier: str) -> None:
        """Tally a refused duplicate submission (the "exactly once" ground truth)."""
        self._duplicates[supplier_identifier] += 1
        self._save()

    def duplicates_refused(self) -> dict[str, int]:
        """Refused duplicates per supplier identifier."""
        return dict(self._duplicates)

    # --- flux ----------------------------------------------------------------------------------

    def allocate_flux_id(self) -> int:
        """The next flux counter (`numeroFluxDepot` is `CPP` and this on 22 digits)."""
        flux_id = self._next_flux_id
        self._next_flux_id += 1
        return flux_id

    def add_flux(self, record: FluxRecord) -> None:
        """Record a deposited flux."""
        self._flux[record.number] = record
        self._save()

    def flux(self, number: str) -> FluxRecord | None:
        """One flux by `numeroFluxDepot`."""
        return self._flux.get(number)

    def all_flux(self) -> list[FluxRecord]:
        """Every flux, in the order deposited."""
        return sorted(self._flux.values(), key=lambda record: record.id)

    def due_flux(self, now: datetime) -> list[FluxRecord]:
        """The flux not processed yet whose processing time has come, oldest deposit first."""
        due = [
            record
            for record in self._flux.values()
            if record.final_state is None and record.processing_at <= now
        ]
        return sorted(due, key=lambda record: record.id)

    def save_flux(self, record: FluxRecord) -> None:
        """Write a processed flux through (it was changed in place)."""
        self._flux[record.number] = record
        self._save()

    # --- persistence ---------------------------------------------------------------------------

    def _restore(self, snapshot: Snapshot) -> None:
        self._invoices = {record.id: record for record in snapshot.invoices}
        self._attachments = {record.id: record for record in snapshot.attachments}
        self._tokens = dict(snapshot.tokens)
        self._duplicates = Counter(snapshot.duplicates_refused)
        self._flux = {record.number: record for record in snapshot.flux}
        # A state file restored from a backup must not give out the ids issued since.
        floor = id_floor()
        self._next_invoice_id = max(snapshot.next_invoice_id, floor)
        self._next_attachment_id = max(snapshot.next_attachment_id, floor)
        self._next_event_id = max(snapshot.next_event_id, floor)
        self._next_flux_id = max(snapshot.next_flux_id, floor)

    def _save(self) -> None:
        if self._state_file is None:
            return
        snapshot = Snapshot(
            next_invoice_id=self._next_invoice_id,
            next_attachment_id=self._next_attachment_id,
            next_event_id=self._next_event_id,
            next_flux_id=self._next_flux_id,
            structures=self.directory.all(),
            invoices=self.invoices(),
            attachments=list(self._attachments.values()),
            tokens=self._tokens,
            duplicates_refused=dict(self._duplicates),
            flux=self.all_flux(),
        )
        # Write aside then rename, so a crash mid-write never leaves a truncated state file.
        temporary = self._state_file.with_name(self._state_file.name + ".tmp")
        temporary.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(snapshot.model_dump_json(indent=1), encoding="utf-8")
        os.replace(temporary, self._state_file)
