"""The flux channel's endpoints: `factures/v1/deposer/flux` and the transverses reports."""

from __future__ import annotations

from fastapi import APIRouter

from app.emulator.dependencies import CallerDep, EmulatorDep, ensure_known_fields
from app.emulator.flux.schemas import (
    ConsulterCRDetailleOut,
    ConsulterCRIn,
    ConsulterCROut,
    DeposerFluxIn,
    DeposerFluxOut,
)
from app.emulator.flux.service import deposit_flux, detailed_report, report

# Deposits live under the Factures API, their reports under Transverses.
router = APIRouter(prefix="/cpro/factures/v1", tags=["Factures"])
reports_router = APIRouter(prefix="/cpro/transverses/v1", tags=["Transverses"])


@router.post("/deposer/flux")
async def deposer_flux(
    body: DeposerFluxIn, emulator: EmulatorDep, caller: CallerDep
) -> DeposerFluxOut:
    """DeposerFluxFacture: deposit a CII, UBL or Factur-X invoice, processed asynchronously."""
    ensure_known_fields(emulator, body)
    return deposit_flux(emulator, caller, body)


@reports_router.post("/consulterCR")
async def consulter_cr(
    body: ConsulterCRIn, emulator: EmulatorDep, caller: CallerDep
) -> ConsulterCROut:
    """ConsulterCR: the state of a deposited flux."""
    ensure_known_fields(emulator, body)
    return report(emulator, caller, body)


@reports_router.post("/consulterCRDetaille")
async def consulter_cr_detaille(
    body: ConsulterCRIn, emulator: EmulatorDep, caller: CallerDep
) -> ConsulterCRDetailleOut:
    """ConsulterCRDetaille: the state of a flux and the invoices it could not integrate."""
    ensure_known_fields(emulator, body)
    return detailed_report(emulator, caller, body)
