"""Who may act on a structure: operators, and its principal; anyone else finds nothing there.

A principal's rights are read from the database on each of these requests (not from the auth
cache), so a principal who has just passed its role on cannot act a moment longer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy import select

from app.api_types import InvoiceIdPath, SiretPath
from app.auth.dependencies import get_caller
from app.auth.scopes import Scope
from app.auth.service import Caller
from app.db.session import SessionDep
from app.errors import Forbidden, NotFound
from app.invoices.models import Invoice
from app.structures.audit import Actor
from app.structures.members import checked_siret, is_principal

CallerDep = Annotated[Caller, Depends(get_caller)]


@dataclass(frozen=True, slots=True)
class ManagedStructure:
    """A structure the caller may manage, and who the caller is."""

    siret: str
    actor: Actor
    caller: Caller


async def managed_structure(
    siret: SiretPath, session: SessionDep, caller: CallerDep
) -> ManagedStructure:
    """Operators and the structure's principal pass; for anyone else it does not exist (404)."""
    normalized = checked_siret(siret)
    if caller.is_operator or await is_principal(session, normalized, caller.client_id):
        return ManagedStructure(normalized, Actor.of(caller), caller)
    raise NotFound(f"No supplier structure {siret}.")


async def operator_structure(
    managed: Annotated[ManagedStructure, Depends(managed_structure)],
) -> ManagedStructure:
    """Operators only; the principal is told so (403), anyone else finds nothing (404)."""
    if not managed.actor.is_operator:
        raise Forbidden("This operation needs the 'operator' scope.")
    return managed


async def requesting_structure(
    siret: SiretPath, session: SessionDep, caller: CallerDep
) -> ManagedStructure:
    """Callers holding `structures:request` may ask to join any registered structure."""
    normalized = checked_siret(siret)
    if caller.is_operator or Scope.STRUCTURES_REQUEST in caller.scopes:
        return ManagedStructure(normalized, Actor.of(caller), caller)
    if await is_principal(session, normalized, caller.client_id):
        raise Forbidden(f"This operation needs the '{Scope.STRUCTURES_REQUEST}' scope.")
    raise NotFound(f"No supplier structure {siret}.")


async def invoice_retrier(
    invoice_id: InvoiceIdPath, session: SessionDep, caller: CallerDep
) -> Caller:
    """Operators, and the principal of the invoice's supplier structure, may retry it."""
    if caller.is_operator:
        return caller
    supplier = await session.scalar(select(Invoice.supplier_siret).where(Invoice.id == invoice_id))
    if supplier is not None and await is_principal(session, supplier, caller.client_id):
        return caller
    if supplier is not None and caller.may_see_supplier(supplier):
        raise Forbidden("Retrying needs the 'operator' scope or the supplier's principal.")
    raise NotFound(f"No invoice {invoice_id}.")


ManagedDep = Annotated[ManagedStructure, Depends(managed_structure)]
OperatorStructureDep = Annotated[ManagedStructure, Depends(operator_structure)]
RequesterDep = Annotated[ManagedStructure, Depends(requesting_structure)]
RetrierDep = Annotated[Caller, Depends(invoice_retrier)]
