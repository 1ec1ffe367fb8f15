"""`/cpro/factures/v1/...`: submit an invoice and read invoices back as their supplier."""

from __future__ import annotations

from fastapi import APIRouter

from app.emulator.dependencies import CallerDep, EmulatorDep, ensure_known_fields
from app.emulator.factures.schemas import (
    ConsulterFactureIn,
    ConsulterFactureOut,
    ConsulterHistoriqueIn,
    ConsulterHistoriqueOut,
    RechercherFactureFournisseurIn,
    RechercherFactureFournisseurOut,
    SoumettreFactureIn,
    SoumettreFactureOut,
)
from app.emulator.factures.service import consult_invoice, invoice_history, search_invoices
from app.emulator.factures.submission_service import submit_invoice

router = APIRouter(prefix="/cpro/factures/v1", tags=["Factures"])


@router.post("/soumettre")
async def soumettre(
    body: SoumettreFactureIn, emulator: EmulatorDep, caller: CallerDep
) -> SoumettreFactureOut:
    """SoumettreFacture: deposit a structured (SAISIE_API) or PDF (DEPOT_PDF_API) invoice."""
    ensure_known_fields(emulator, body)
    return submit_invoice(emulator, caller, body)


@router.post("/rechercher/fournisseur")
async def rechercher_fournisseur(
    body: RechercherFactureFournisseurIn, emulator: EmulatorDep, caller: CallerDep
) -> RechercherFactureFournisseurOut:
    """RechercherFactureParFournisseur: the caller's invoices, filtered and paginated."""
    ensure_known_fields(emulator, body)
    return search_invoices(emulator, caller, body)


@router.post("/consulter/fournisseur")
async def consulter_fournisseur(
    body: ConsulterFactureIn, emulator: EmulatorDep, caller: CallerDep
) -> ConsulterFactureOut:
    """ConsulterFactureParFournisseur: one invoice in full."""
    ensure_known_fields(emulator, body)
    return consult_invoice(emulator, caller, body)


@router.post("/consulter/historique")
async def consulter_historique(
    body: ConsulterHistoriqueIn, emulator: EmulatorDep, caller: CallerDep
) -> ConsulterHistoriqueOut:
    """ConsulterHistoriqueFacture: the statuses an invoice went through."""
    ensure_known_fields(emulator, body)
    return invoice_history(emulator, caller, body)
