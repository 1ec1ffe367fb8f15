"""`/cpro/transverses/v1/...`: attachments, the account's structures, health-check."""

from __future__ import annotations

from fastapi import APIRouter

from app.emulator.auth import check_token, identify_account
from app.emulator.dependencies import (
    AuthorizationHeader,
    CallerDep,
    CproAccountHeader,
    EmulatorDep,
    ensure_known_fields,
)
from app.emulator.schemas import Retour
from app.emulator.structures.service import active_structures
from app.emulator.transverses.schemas import (
    AjouterFichierIn,
    AjouterFichierOut,
    StructuresActivesIn,
    StructuresActivesOut,
)
from app.emulator.transverses.service import add_attachment

router = APIRouter(prefix="/cpro/transverses/v1", tags=["Transverses"])


@router.post("/ajouter/fichier")
async def ajouter_fichier(
    body: AjouterFichierIn, emulator: EmulatorDep, caller: CallerDep
) -> AjouterFichierOut:
    """AjouterFichierDansSysteme: upload an attachment (base64, at most 10 Mo)."""
    ensure_known_fields(emulator, body)
    return add_attachment(emulator, caller, body)


@router.post("/recuperer/structures/actives/fournisseur")
async def structures_actives_fournisseur(
    emulator: EmulatorDep, caller: CallerDep, body: StructuresActivesIn | None = None
) -> StructuresActivesOut:
    """RecupererStructuresActivesFournisseur: where the technical account may invoice from."""
    if body is not None:
        ensure_known_fields(emulator, body)
    return active_structures(emulator, caller)


@router.get("/health-check")
async def health_check(
    emulator: EmulatorDep,
    authorization: AuthorizationHeader = None,
    cpro_account: CproAccountHeader = None,
) -> Retour:
    """Health-check: the one GET of the API; whether it wants `cpro-account` is a setting."""
    check_token(emulator, authorization)
    if emulator.settings.health_check_requires_account:
        identify_account(emulator, cpro_account)
    return Retour(libelle=emulator.settings.success_libelle)
