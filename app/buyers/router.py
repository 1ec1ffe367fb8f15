"""Lookups that spare ERPs a rejection."""

from __future__ import annotations

from fastapi import APIRouter

from app.api_types import SiretPath
from app.auth.dependencies import WriterDep
from app.buyers import service
from app.buyers.schemas import BuyerServicesOut, ServiceOut
from app.dependencies import AccountLookupDep, ResourcesDep
from app.problems import problem_responses

router = APIRouter(prefix="/v1/buyers", tags=["buyers"])


@router.get(
    "/{siret}/services",
    response_model=BuyerServicesOut,
    summary="A buyer's active services and whether EJ/SE are mandatory",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def buyer_services(
    siret: SiretPath, resources: ResourcesDep, accounts: AccountLookupDep, caller: WriterDep
) -> BuyerServicesOut:
    """From Chorus Pro's directory, cached for CHORUS_DIRECTORY_CACHE_SECONDS."""
    profile = await service.buyer_profile(resources.buyers, accounts, caller, siret)
    return BuyerServicesOut(
        siret=profile.siret,
        name=profile.name,
        ej_required=profile.ej_required,
        service_required=profile.service_required,
        ej_or_service_required=profile.ej_or_service_required,
        services=[ServiceOut(code=s.code, name=s.name) for s in profile.active_services],
        fetched_at=profile.fetched_at,
    )
