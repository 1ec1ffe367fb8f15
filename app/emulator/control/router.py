"""`/_emulator/...`: no authentication; for tests, demos and the chaos run."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from app.emulator.control import service
from app.emulator.control.schemas import (
    ClockAdvance,
    ClockOut,
    FluxOut,
    InvoiceList,
    InvoiceOut,
    PasswordChange,
    StatusChange,
    StructureOut,
)
from app.emulator.dependencies import EmulatorDep
from app.emulator.directory import StructureSpec
from app.emulator.faults import FaultPlan

router = APIRouter(prefix="/_emulator", tags=["Emulator control"])


@router.get("/invoices")
async def list_invoices(emulator: EmulatorDep) -> InvoiceList:
    """Everything received, per-supplier counts and refused duplicates (the ground truth)."""
    return service.list_invoices(emulator)


@router.get("/invoices/{invoice_id}")
async def get_invoice(invoice_id: int, emulator: EmulatorDep) -> InvoiceOut:
    """One invoice with its history so far."""
    try:
        return service.get_invoice(emulator, invoice_id)
    except service.NotFound as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/flux")
async def list_flux(emulator: EmulatorDep) -> list[FluxOut]:
    """Every deposer/flux deposit with its state, errors and the invoices it gave."""
    return [service.describe_flux(emulator, record) for record in emulator.store.all_flux()]


@router.post(
    "/invoices/{invoice_id}/status",
    responses={409: {"description": "The invoice is in a final status, or back to DEPOSEE"}},
)
async def change_status(invoice_id: int, change: StatusChange, emulator: EmulatorDep) -> InvoiceOut:
    """Move an invoice as the buyer would (REJETEE and SUSPENDUE need a motif; final is final)."""
    try:
        return service.change_status(emulator, invoice_id, change)
    except service.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except service.TransitionRefused as exc:
        raise HTTPException(409, str(exc)) from None


@router.get("/faults")
async def get_faults(emulator: EmulatorDep) -> dict[str, object]:
    """The fault rules in force, how often each fired and how many shots remain."""
    return emulator.faults.view()


@router.put("/faults")
async def put_faults(plan: FaultPlan, emulator: EmulatorDep) -> dict[str, object]:
    """Replace the fault rules."""
    emulator.faults.set(plan)
    return emulator.faults.view()


@router.delete("/faults")
async def delete_faults(emulator: EmulatorDep) -> dict[str, object]:
    """Remove every fault rule."""
    emulator.faults.clear()
    return emulator.faults.view()


@router.get("/structures")
async def list_structures(emulator: EmulatorDep) -> list[StructureOut]:
    """The whole directory (passwords left out)."""
    return [service.describe_structure(spec) for spec in emulator.store.directory.all()]


@router.post("/structures")
async def add_structure(spec: StructureSpec, emulator: EmulatorDep) -> StructureOut:
    """Add a structure, or replace the one with the same identifier (keeping its ids)."""
    try:
        return service.add_structure(emulator, spec)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


@router.post("/accounts/{login}/password")
async def change_password(
    login: str, change: PasswordChange, emulator: EmulatorDep
) -> dict[str, object]:
    """Change a technical account's password, e.g. to test the gateway's 403 handling."""
    changed = emulator.store.set_password(login, change.password, change.password_expires_at)
    if not changed:
        raise HTTPException(404, f"no technical account {login!r}")
    return {"login": login, "structures": changed}


@router.post("/reset")
async def reset(emulator: EmulatorDep) -> dict[str, str]:
    """Forget invoices, attachments, duplicates, faults and stats; reload the seed directory.

    Issued tokens stay valid, so a running gateway is not logged out between test cases.
    """
    emulator.reset()
    return {"status": "reset"}


@router.get("/stats")
async def stats(emulator: EmulatorDep) -> dict[str, dict[str, int]]:
    """Calls per endpoint, faults fired per kind, refusals per code."""
    return emulator.stats.as_dict()


@router.get("/clock")
async def clock(emulator: EmulatorDep) -> ClockOut:
    """The emulator's current instant."""
    return ClockOut(now=emulator.now())


@router.post("/clock/advance")
async def advance_clock(advance: ClockAdvance, emulator: EmulatorDep) -> ClockOut:
    """Move the emulator's clock forward: the auto lifecycle and token expiry follow it."""
    return ClockOut(now=emulator.clock.advance(advance.seconds))
