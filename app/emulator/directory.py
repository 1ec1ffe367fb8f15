"""The directory of structures the emulator knows: recipients, suppliers, services, accounts.

Its data-file format (English keys, see `data/directory.json`) is also what
`POST /_emulator/structures` takes, so a user can describe their own SIRETs either way.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FIRST_STRUCTURE_ID = 26_000_001
FIRST_SERVICE_ID = 10_000_001


class ServiceSpec(BaseModel):
    """A service of a recipient structure (its `codeServiceExecutant`)."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    code: str = Field(min_length=1, max_length=100)
    name: str = ""
    active: bool = True
    # `parametres.numeroEngagement` of consulter/service: an EJ is mandatory for this service.
    ej_required: bool = False


class TechnicalAccountSpec(BaseModel):
    """The Chorus technical account a supplier's `cpro-account` header names."""

    model_config = ConfigDict(extra="forbid")

    login: str = Field(min_length=1)
    password: str = Field(min_length=1)
    # `dateExpirationMotPasseCompteTech`; filled in at load time when left out.
    password_expires_at: datetime | None = None


class StructureSpec(BaseModel):
    """One structure, with the `parametres` flags Chorus applies to invoices it receives."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    identifier: str = Field(min_length=1, max_length=80)
    identifier_type: Literal[
        "SIRET", "UE_HORS_FRANCE", "HORS_UE", "RIDET", "TAHITI", "AUTRE", "PARTICULIER"
    ] = "SIRET"
    designation: str = Field(min_length=1)
    role: Literal["supplier", "recipient", "both"] = "recipient"
    public: bool = False
    active: bool = True
    service_required: bool = False
    ej_required: bool = False
    ej_or_service_required: bool = False
    payment_status_not_reported: bool = False
    postal_code: str | None = None
    city: str | None = None
    services: list[ServiceSpec] = Field(default_factory=list)
    technical_account: TechnicalAccountSpec | None = None

    @property
    def is_supplier(self) -> bool:
        """Whether invoices may be sent from this structure."""
        return self.role in ("supplier", "both")

    @property
    def is_recipient(self) -> bool:
        """Whether invoices may be sent to this structure."""
        return self.role in ("recipient", "both")

    def service_by_code(self, code: str) -> ServiceSpec | None:
        """The service with this `codeServiceExecutant`, if any."""
        return next((s for s in self.services if s.code == code), None)

    def service_by_id(self, service_id: int) -> ServiceSpec | None:
        """The service with this `idService`, if any."""
        return next((s for s in self.services if s.id == service_id), None)


class DirectoryFile(BaseModel):
    """The whole data file."""

    model_config = ConfigDict(extra="forbid")

    structures: list[StructureSpec]


def read_directory_file(path: Path) -> list[StructureSpec]:
    """The structures described in a directory data file."""
    return DirectoryFile.model_validate(json.loads(path.read_text(encoding="utf-8"))).structures


class Directory:
    """Structures by id and identifier, with stable ids for structures and services."""

    def __init__(self, structures: list[StructureSpec], now: datetime, validity_days: int) -> None:
        self._now = now
        self._validity = timedelta(days=validity_days)
        self._structures: dict[int, StructureSpec] = {}
        for spec in structures:
            self.upsert(spec)

    def all(self) -> list[StructureSpec]:
        """Every structure, by id."""
        return [self._structures[key] for key in sorted(self._structures)]

    def by_id(self, structure_id: int) -> StructureSpec | None:
        """The structure with this `idStructureCPP`."""
        return self._structures.get(structure_id)

    def by_identifier(self, identifier: str) -> StructureSpec | None:
        """The structure with this identifier (SIRET for French structures)."""
        return next((s for s in self._structures.values() if s.identifier == identifier), None)

    def supplier_structures_of(self, login: str) -> list[StructureSpec]:
        """The active supplier structures a technical account is attached to."""
        return [
            s
            for s in self.all()
            if s.is_supplier
            and s.active
            and s.technical_account is not None
            and s.technical_account.login == login
        ]

    def upsert(self, spec: StructureSpec) -> StructureSpec:
        """Add a structure, or replace the one with the same identifier keeping its ids.

        Left-out ids are assigned; a left-out technical account keeps the existing one, so
        changing flags never locks a supplier out.
        """
        spec = spec.model_copy(deep=True)
        existing = self.by_identifier(spec.identifier)
        if existing is not None:
            spec.id = existing.id
            for service in spec.services:
                previous = existing.service_by_code(service.code)
                if service.id is None and previous is not None:
                    service.id = previous.id
            if spec.technical_account is None:
                spec.technical_account = existing.technical_account
        if spec.id is None:
            spec.id = max(self._structures, default=FIRST_STRUCTURE_ID - 1) + 1
        for service in spec.services:
            if service.id is None:
                service.id = self._next_service_id(spec)
        account = spec.technical_account
        if account is not None and account.password_expires_at is None:
            account.password_expires_at = self._now + self._validity
        self._structures[spec.id] = spec
        return spec

    def set_password(self, login: str, password: str, expires_at: datetime | None) -> int:
        """Change a technical account's password everywhere it is attached; returns how many."""
        changed = 0
        for spec in self._structures.values():
            account = spec.technical_account
            if account is not None and account.login == login:
                account.password = password
                if expires_at is not None:
                    account.password_expires_at = expires_at
                changed += 1
        return changed

    def _next_service_id(self, adding: StructureSpec) -> int:
        taken = [
            service.id
            for spec in [*self._structures.values(), adding]
            for service in spec.services
            if service.id is not None
        ]
        return max(taken, default=FIRST_SERVICE_ID - 1) + 1
