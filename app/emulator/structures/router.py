"""`/cpro/structures/v1/...`: the directory of structures and their services."""

from __future__ import annotations

from fastapi import APIRouter

from app.emulator.dependencies import CallerDep, EmulatorDep, ensure_known_fields
from app.emulator.structures.schemas import (
    ConsulterServiceIn,
    ConsulterServiceOut,
    ConsulterStructureIn,
    ConsulterStructureOut,
    RechercherServicesIn,
    RechercherServicesOut,
    RechercherStructureIn,
    RechercherStructureOut,
)
from app.emulator.structures.service import (
    consult_service,
    consult_structure,
    search_services,
    search_structures,
)

router = APIRouter(prefix="/cpro/structures/v1", tags=["Structures"])


@router.post("/rechercher")
async def rechercher(
    body: RechercherStructureIn, emulator: EmulatorDep, caller: CallerDep
) -> RechercherStructureOut:
    """RechercherStructure: find structures by SIRET and other criteria."""
    ensure_known_fields(emulator, body)
    return search_structures(emulator, body)


@router.post("/consulter")
async def consulter(
    body: ConsulterStructureIn, emulator: EmulatorDep, caller: CallerDep
) -> ConsulterStructureOut:
    """ConsulterStructure: general information and the `parametres` flags."""
    ensure_known_fields(emulator, body)
    return consult_structure(emulator, caller, body)


@router.post("/rechercher/services")
async def rechercher_services(
    body: RechercherServicesIn, emulator: EmulatorDep, caller: CallerDep
) -> RechercherServicesOut:
    """RechercherServicesStructure: a structure's services."""
    ensure_known_fields(emulator, body)
    return search_services(emulator, body)


@router.post("/consulter/service")
async def consulter_service(
    body: ConsulterServiceIn, emulator: EmulatorDep, caller: CallerDep
) -> ConsulterServiceOut:
    """ConsulterServiceStructure: one service and whether it wants an EJ."""
    ensure_known_fields(emulator, body)
    return consult_service(emulator, body)
