"""What Chorus did during a qualification run, as plain data (no judgement, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Exchange:
    """One answer as it came: HTTP status, the envelope's `codeRetour`/`libelle`, a body excerpt."""

    status: int
    code: int | None = None
    label: str | None = None
    # The start of the body, for answers that are not a Chorus envelope (PISTE denials).
    body: str = ""

    def describe(self) -> str:
        """`HTTP 400, codeRetour 20300, libelle "..."`, or `HTTP 403, empty body`."""
        parts = [f"HTTP {self.status}"]
        if self.code is not None:
            parts.append(f"codeRetour {self.code}")
        if self.label:
            parts.append(f'libelle "{self.label}"')
        if self.code is None and not self.label:
            parts.append(f"body {self.body!r}" if self.body else "empty body")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Submitted:
    """An invoice the run created: the number it sent and what Chorus answered."""

    channel: str  # saisie, pdf or flux
    sent_number: str
    chorus_id: int | None = None
    chorus_number: str | None = None
    libelle: str | None = None


@dataclass(frozen=True, slots=True)
class DuplicateProbe:
    """The same invoice sent again: refused (`refusal`) or accepted as a second invoice."""

    channel: str
    number: str
    refusal: Exchange | None = None
    accepted_id: int | None = None


@dataclass(frozen=True, slots=True)
class FluxRun:
    """A CII flux followed until a final state or the run's patience ran out."""

    sent_number: str
    flux_number: str | None = None
    final_state: str | None = None
    last_state: str | None = None
    seconds_to_final: float | None = None
    waited_seconds: float = 0.0
    report_keys: tuple[str, ...] = ()
    invoice_errors: tuple[str, ...] = ()
    technical_errors: tuple[str, ...] = ()
    # The report read back through the gateway's own model (`FluxReport`).
    report_readable: bool | None = None
    # What a search by `numeroFluxDepot` found once the flux was integrated.
    found_numbers: tuple[str, ...] = ()
    found_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class HistoryRead:
    """One invoice's `consulter/historique`, asked for `asked_page_size` statuses per page."""

    asked_page_size: int
    statuses: int
    page_size: int | None = None
    pages: int | None = None
    total: int | None = None
    # As Chorus wrote it: text, or a number for epoch milliseconds.
    first_date: str | int | None = None
    # When the run submitted the invoice (UTC, a few seconds wide), to tell the date's zone.
    submitted_after: datetime | None = None
    submitted_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class StateDirectory:
    """The State's structure (`11000201100044`) and its services."""

    structure_id: int | None = None
    status: str | None = None
    designation: str | None = None
    flags: dict[str, bool] = field(default_factory=dict)
    active_services: tuple[str, ...] = ()
    inactive_services: tuple[str, ...] = ()


@dataclass(slots=True)
class Observations:
    """Everything the run saw; a field stays None when its step did not get that far."""

    target: str
    api_url: str
    supplier_siret: str
    started_at: datetime
    finished_at: datetime | None = None
    token_expires_in: float | None = None
    token_scope: str | None = None
    token_type: str | None = None
    wrong_account: Exchange | None = None
    health_check: Exchange | None = None
    supplier_structure_id: int | None = None
    password_expiry: str | None = None
    state: StateDirectory | None = None
    saisie: Submitted | None = None
    pdf: Submitted | None = None
    duplicate: DuplicateProbe | None = None
    flux: FluxRun | None = None
    empty_search: Exchange | None = None
    empty_search_results: int | None = None
    refusal: Exchange | None = None
    history: HistoryRead | None = None
    # Step name → why it could not finish (a refusal, a timeout...).
    errors: dict[str, str] = field(default_factory=dict)
    created: list[Submitted] = field(default_factory=list)
