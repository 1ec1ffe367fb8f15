"""Choosing the technical account a gateway-initiated Chorus call acts as."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.chorus.accounts import TechnicalAccount
from app.crypto import PasswordBox
from app.structures.models import SupplierStructure
from app.structures.service import technical_account

# Supplier SIRETs (None: any) -> an unpaused technical account of one of them, or None.
AccountLookup = Callable[[Collection[str] | None], Awaitable[TechnicalAccount | None]]


async def account_for_suppliers(
    session: AsyncSession, box: PasswordBox, sirets: Collection[str] | None
) -> TechnicalAccount | None:
    """An unpaused technical account of one of `sirets` (any structure when None)."""
    query = select(SupplierStructure).where(SupplierStructure.paused_at.is_(None))
    if sirets is not None:
        query = query.where(SupplierStructure.siret.in_(sorted(sirets)))
    structure = await session.scalar(query.order_by(SupplierStructure.siret).limit(1))
    return technical_account(structure, box) if structure is not None else None
