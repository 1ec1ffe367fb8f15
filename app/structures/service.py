"""Adding supplier structures, rotating their passwords, and lending their accounts to calls."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.chorus.accounts import TechnicalAccount
from app.db.base import utc_now
from app.domain.identifiers import is_valid_siret, normalize_siret
from app.domain.violations import Code, Violation
from app.errors import Conflict, NotFound, RequestInvalid
from app.structures.crypto import PasswordBox
from app.structures.models import SupplierStructure


class StructureExists(Conflict):
    """This supplier SIRET already has a technical account."""

    code = "STRUCTURE_EXISTS"
    title = "Structure already registered"


def _checked_siret(siret: str) -> str:
    normalized = normalize_siret(siret)
    if not is_valid_siret(normalized):
        raise RequestInvalid(errors=[Violation("siret", Code.SIRET_INVALID, "Not a valid SIRET.")])
    return normalized


async def add_structure(
    session: AsyncSession, box: PasswordBox, *, siret: str, login: str, password: SecretStr
) -> SupplierStructure:
    """Register a supplier structure and its technical account."""
    siret = _checked_siret(siret)
    if await session.get(SupplierStructure, siret) is not None:
        raise StructureExists(f"Structure {siret} is already registered; rotate its password.")
    now = utc_now()
    structure = SupplierStructure(
        siret=siret,
        login=login,
        password_ciphertext=box.seal(password),
        created_at=now,
        updated_at=now,
    )
    session.add(structure)
    await session.flush()
    return structure


async def rotate_password(
    session: AsyncSession,
    box: PasswordBox,
    *,
    siret: str,
    password: SecretStr,
    login: str | None = None,
) -> SupplierStructure:
    """Replace a structure's password (and login); deliveries paused for auth resume."""
    structure = await get_structure(session, siret)
    structure.password_ciphertext = box.seal(password)
    if login:
        structure.login = login
    structure.paused_at = None
    structure.paused_reason = None
    structure.updated_at = utc_now()
    await session.flush()
    return structure


async def get_structure(session: AsyncSession, siret: str) -> SupplierStructure:
    """The structure registered for `siret`, or 404."""
    structure = await session.get(SupplierStructure, _checked_siret(siret))
    if structure is None:
        raise NotFound(f"No supplier structure {siret}.")
    return structure


async def list_structures(session: AsyncSession) -> Sequence[SupplierStructure]:
    """Every registered structure."""
    return (
        await session.scalars(select(SupplierStructure).order_by(SupplierStructure.siret))
    ).all()


def technical_account(structure: SupplierStructure, box: PasswordBox) -> TechnicalAccount:
    """The account to send Chorus calls for this structure with."""
    return TechnicalAccount(login=structure.login, password=box.open(structure.password_ciphertext))
