"""The flux channel's endpoints: `factures/v1/deposer/flux` and the transverses reports."""

from __future__ import annotations

from fastapi import APIRouter

from app.emulator.api.deps import CallerDep, EmulatorDep, ensure_known_fields
from app.emulator.services.flux import deposit_flux, detailed_report, report
from app.emulator.wire.flux import (
    ConsulterCRDetailleOut,
    ConsulterCRIn,
    ConsulterCROut,
    DeposerFluxIn,
    DeposerFluxOut,
)

factures_router = APIRouter(prefix="/cpro/factures/v1", tags=["Factures"])
transverses_router = APIRouter(prefix="/cpro/transverses/v1", tags=["Transverses"])


@factures_router.post("/deposer/flux")
async def deposer_flux(
    body: DeposerFluxIn, emulator: EmulatorDep, caller: CallerDep
) -> DeposerFluxOut:
    """DeposerFluxFacture: deposit a CII, UBL or Factur-X invoice, processed asynchronously."""
    ensure_known_fields(emulator, body)
    return deposit_flux(emulator, caller, body)


@transverses_router.post("/consulterCR")
async def consulter_cr(
    body: ConsulterCRIn, emulator: EmulatorDep, caller: CallerDep
) -> ConsulterCROut:
    """ConsulterCR: the state of a deposited flux."""
    ensure_known_fields(emulator, body)
    return report(emulator, caller, body)


@transverses_router.post("/consulterCRDetaille")
async def consulter_cr_detaille(
    body: ConsulterCRIn, emulator: EmulatorDep, caller: CallerDep
) -> ConsulterCRDetailleOut:
    """ConsulterCRDetaille: the state of a flux and the invoices it could not integrate."""
    ensure_known_fields(emulator, body)
    return detailed_report(emulator, caller, body)
