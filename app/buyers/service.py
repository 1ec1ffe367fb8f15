"""Buyer lookups for ERPs, and the directory's answer for online validation."""

from __future__ import annotations

import asyncio

from app.auth.service import Caller
from app.buyers.directory import BuyerDirectory, BuyerNotInChorus, BuyerProfile
from app.chorus.errors import ChorusError
from app.domain.identifiers import is_valid_siret, normalize_siret
from app.domain.rules import BuyerRequirements
from app.domain.violations import Code, Violation
from app.errors import ChorusUnavailable, NotFound, RequestInvalid
from app.settings import ApiSettings
from app.structures.accounts import AccountLookup


def _visible_suppliers(caller: Caller) -> frozenset[str] | None:
    return None if caller.is_operator else caller.supplier_sirets


async def buyer_profile(
    directory: BuyerDirectory, accounts: AccountLookup, caller: Caller, siret: str
) -> BuyerProfile:
    """The buyer's flags and services, asked of Chorus Pro as one of the caller's suppliers."""
    siret = normalize_siret(siret)
    if not is_valid_siret(siret):
        raise RequestInvalid(errors=[Violation("siret", Code.SIRET_INVALID, "Not a valid SIRET.")])
    account = await accounts(_visible_suppliers(caller))
    if account is None:
        raise ChorusUnavailable(
            "None of your suppliers has a technical account registered (gateway structures add)."
        )
    try:
        return await directory.profile(account, siret)
    except BuyerNotInChorus as exc:
        raise NotFound(f"Buyer {siret} is not in Chorus Pro's directory.") from exc
    except ChorusError as exc:
        raise ChorusUnavailable(f"Chorus Pro did not answer: {exc}") from exc


async def online_requirements(
    directory: BuyerDirectory,
    accounts: AccountLookup,
    settings: ApiSettings,
    caller: Caller,
    buyer_siret: str,
    service_code: str | None,
) -> BuyerRequirements | None:
    """What the directory says this buyer needs, or None to validate offline."""
    if not settings.online_validation or directory.offline:
        return None
    cached = directory.cached_requirements(buyer_siret, service_code)
    if cached is not None:
        return cached
    account = await accounts(_visible_suppliers(caller))
    if account is None:
        return None
    try:
        async with asyncio.timeout(settings.online_validation_timeout_seconds):
            profile = await directory.profile(account, buyer_siret)
            service = profile.service(service_code) if service_code else None
            needs_ej = (
                await directory.service_requires_ej(account, profile, service)
                if service is not None
                else False
            )
    except BuyerNotInChorus:
        return BuyerRequirements(known=False)
    except (ChorusError, TimeoutError):
        directory.mark_offline(settings.online_validation_retry_seconds)
        return None
    return profile.requirements(service_requires_ej=needs_ej)
