"""What Chorus Pro's directory says about a buyer, cached so ERPs and validation ask it rarely."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.chorus.accounts import TechnicalAccount
from app.chorus.cache import ExpiringLru
from app.chorus.client import ChorusClient
from app.db.base import utc_now
from app.domain.identifiers import PUBLIC_TO_PUBLIC_SERVICE
from app.domain.invoice import Address
from app.domain.rules import BuyerRequirements

# The default bound of the directory caches (CHORUS_DIRECTORY_CACHE_SIZE in the app).
DEFAULT_MAX_ENTRIES = 5000


@dataclass(frozen=True, slots=True)
class BuyerService:
    """One of the buyer's services (SE)."""

    code: str
    name: str | None
    active: bool
    chorus_id: int


@dataclass(frozen=True, slots=True)
class BuyerProfile:
    """A buyer's Chorus structure: flags and services."""

    siret: str
    name: str | None
    chorus_structure_id: int
    ej_required: bool
    service_required: bool
    ej_or_service_required: bool
    services: tuple[BuyerService, ...]
    # `statutMiseEnPaiementNestPasRemonte`: this buyer never reports MISE_EN_PAIEMENT.
    payment_status_not_reported: bool = False
    # `adressePostaleDuSiege`: the buyer's address (BG-8) when the invoice gives none.
    address: Address | None = None
    fetched_at: datetime = field(default_factory=utc_now)

    @property
    def active_services(self) -> tuple[BuyerService, ...]:
        """Services an invoice may be addressed to (never FACTURES_PUBLIQUES)."""
        return tuple(s for s in self.services if s.active and s.code != PUBLIC_TO_PUBLIC_SERVICE)

    def service(self, code: str) -> BuyerService | None:
        """The active service with this code, if any."""
        return next((s for s in self.active_services if s.code == code), None)

    def requirements(self, *, service_requires_ej: bool = False) -> BuyerRequirements:
        """The rules' view of this profile."""
        return BuyerRequirements(
            known=True,
            ej_required=self.ej_required or service_requires_ej,
            service_required=self.service_required,
            ej_or_service_required=self.ej_or_service_required,
            active_service_codes=frozenset(s.code for s in self.active_services),
            name=self.name,
        )


class BuyerNotInChorus(LookupError):
    """Chorus Pro's directory has no structure with this SIRET."""


class BuyerDirectory:
    """Buyer profiles and per-service EJ flags from Chorus Pro, cached for a while."""

    def __init__(
        self,
        client: ChorusClient,
        *,
        ttl_seconds: float,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._clock = clock
        # Bounded: any valid SIRET may be asked about, and the process lives for months.
        self._profiles: ExpiringLru[str, BuyerProfile | None] = ExpiringLru(max_entries, clock)
        self._service_ej: ExpiringLru[tuple[int, int], bool] = ExpiringLru(max_entries, clock)
        # One lock per buyer being looked up, with how many hold or wait for it; dropped at 0.
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._offline_until = 0.0

    @property
    def cached_buyers(self) -> int:
        """How many buyers' answers (found or not) are cached."""
        return len(self._profiles)

    @property
    def pending_lookups(self) -> int:
        """How many buyers have a lookup in progress or waiting."""
        return len(self._locks)

    @property
    def offline(self) -> bool:
        """Whether Chorus failed recently enough that validation should not wait for it."""
        return self._clock() < self._offline_until

    def mark_offline(self, seconds: float) -> None:
        """Skip online checks for a while after Chorus failed to answer."""
        self._offline_until = self._clock() + seconds

    def cached_requirements(self, siret: str, service_code: str | None) -> BuyerRequirements | None:
        """The requirements if everything needed is cached (no account, no call), else None."""
        entry = self._profiles.get(siret)
        if entry is None:
            return None
        profile = entry[0]
        if profile is None:
            return BuyerRequirements(known=False)
        service = profile.service(service_code) if service_code else None
        if service is None:
            return profile.requirements()
        needs_ej = self._service_ej.get((profile.chorus_structure_id, service.chorus_id))
        return None if needs_ej is None else profile.requirements(service_requires_ej=needs_ej[0])

    async def profile(self, account: TechnicalAccount, siret: str) -> BuyerProfile:
        """The buyer's profile; raises `BuyerNotInChorus` or the Chorus error tree."""
        cached = self._profiles.get(siret)
        if cached is not None:
            return _found(cached[0], siret)
        # One lookup per buyer at a time: a burst of invoices must not fan out to Chorus.
        lock, users = self._locks.get(siret, (asyncio.Lock(), 0))
        self._locks[siret] = (lock, users + 1)
        try:
            async with lock:
                cached = self._profiles.get(siret)
                if cached is not None:
                    return _found(cached[0], siret)
                profile = await self._fetch(account, siret)
                self._profiles.put(siret, profile, self._ttl)
        finally:
            lock, users = self._locks[siret]
            if users == 1:
                del self._locks[siret]
            else:
                self._locks[siret] = (lock, users - 1)
        return _found(profile, siret)

    async def service_requires_ej(
        self, account: TechnicalAccount, profile: BuyerProfile, service: BuyerService
    ) -> bool:
        """Whether this service demands an EJ (`consulter/service` `numeroEngagement`)."""
        key = (profile.chorus_structure_id, service.chorus_id)
        cached = self._service_ej.get(key)
        if cached is not None:
            return cached[0]
        details = await self._client.consult_service(
            account, profile.chorus_structure_id, service.chorus_id
        )
        required = details.parametres.numeroEngagement
        self._service_ej.put(key, required, self._ttl)
        return required

    async def _fetch(self, account: TechnicalAccount, siret: str) -> BuyerProfile | None:
        structure_id = await self._client.find_structure_id(account, siret)
        if structure_id is None:
            return None
        details = await self._client.consult_structure(account, structure_id)
        services = await self._client.search_services(account, structure_id)
        flags = details.parametres
        info = details.informationGenerales
        return BuyerProfile(
            siret=siret,
            name=(info.raisonSocialeStructure or info.libelleStructure) if info else None,
            chorus_structure_id=structure_id,
            ej_required=flags.numeroEJDoitEtreRenseigne,
            service_required=flags.codeServiceDoitEtreRenseigne,
            ej_or_service_required=flags.gestionNumeroEJOuCodeService,
            payment_status_not_reported=flags.statutMiseEnPaiementNestPasRemonte,
            address=directory_address(details.adressePostaleDuSiege),
            services=tuple(
                BuyerService(
                    code=s.codeService,
                    name=s.libelleService,
                    active=s.estActif is not False,
                    chorus_id=s.idService,
                )
                for s in services
            ),
        )


# What Chorus's `pays` may say instead of an ISO code (its own screens write the country out).
_COUNTRY_NAMES = {"FRANCE": "FR"}


def directory_address(raw: dict[str, Any] | None) -> Address | None:
    """A directory `adressePostale…` as an address; `pays` kept only as an ISO alpha-2 code."""
    if not raw:
        return None

    def text(key: str) -> str | None:
        value = raw.get(key)
        return (value.strip() or None) if isinstance(value, str) else None

    country = (text("pays") or "").upper()
    address = Address(
        line1=text("adresse"),
        line2=text("complementAdresse1"),
        postal_code=text("codePostal"),
        city=text("ville"),
        country_code=_COUNTRY_NAMES.get(
            country,
            country if len(country) == 2 and country.isalpha() and country.isascii() else None,
        ),
    )
    return None if address == Address() else address


def _found(profile: BuyerProfile | None, siret: str) -> BuyerProfile:
    if profile is None:
        raise BuyerNotInChorus(siret)
    return profile
