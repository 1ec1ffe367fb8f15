"""Adding supplier structures, rotating their passwords, lending their accounts to calls, and
keeping what Chorus says about them (their id, their password's expiry, a refused account)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.chorus.accounts import TechnicalAccount
from app.crypto import PasswordBox
from app.db.base import utc_now
from app.db.conflicts import flush_or_conflict
from app.domain.identifiers import (
    is_valid_french_vat_number,
    is_valid_siret,
    normalize_code,
    normalize_siret,
)
from app.domain.invoice import Address
from app.domain.rules import address_violations
from app.domain.violations import Code, Violation
from app.errors import Conflict, NotFound, RequestInvalid
from app.events.types import EventType
from app.invoices.channels import Channel
from app.structures.audit import COMMAND_LINE, Actor, record_change
from app.structures.models import SupplierStructure
from app.structures.rules import login_problem, password_problem, text_problem


class StructureExists(Conflict):
    """This supplier SIRET already has a technical account."""

    code = "STRUCTURE_EXISTS"
    title = "Structure already registered"


def _check_account(
    login: str | None, password: SecretStr, vat_exemption_reason: str | None = None
) -> None:
    """The API's schema checks the same; the CLI comes through here only."""
    problems = [
        Violation(field, Code.FIELD_INVALID, problem)
        for field, problem in (
            ("login", login_problem(login) if login is not None else None),
            ("password", password_problem(password.get_secret_value())),
            (
                "vat_exemption_reason",
                text_problem(vat_exemption_reason) if vat_exemption_reason else None,
            ),
        )
        if problem
    ]
    if problems:
        detail = " ".join(f"{v.field}: {v.message}" for v in problems)
        raise RequestInvalid(detail, errors=problems)


def normalize_address(address: Address | None) -> Address | None:
    """Trimmed, empty parts absent, codes upper-cased; None when nothing is left."""
    if address is None:
        return None

    def clean(value: str | None, *, code: bool = False) -> str | None:
        value = (value or "").strip()
        return (normalize_code(value) if code else value) or None

    normalized = Address(
        line1=clean(address.line1),
        line2=clean(address.line2),
        postal_code=clean(address.postal_code, code=True),
        city=clean(address.city),
        country_code=clean(address.country_code, code=True),
    )
    return None if normalized == Address() else normalized


def _checked_address(address: Address | None) -> Address | None:
    """The normalized address, or 422 naming what is wrong (the API's and the CLI's rule)."""
    normalized = normalize_address(address)
    problems = list(address_violations("address", normalized))
    if problems:
        detail = " ".join(f"{v.field}: {v.message}" for v in problems)
        raise RequestInvalid(detail, errors=problems)
    return normalized


def structure_address(structure: SupplierStructure) -> Address | None:
    """The registered address, None when the operator gave none."""
    address = Address(
        line1=structure.address_line1,
        line2=structure.address_line2,
        postal_code=structure.postal_code,
        city=structure.city,
        country_code=structure.country_code,
    )
    return None if address == Address() else address


def _checked_siret(siret: str) -> str:
    normalized = normalize_siret(siret)
    if not is_valid_siret(normalized):
        raise RequestInvalid(errors=[Violation("siret", Code.SIRET_INVALID, "Not a valid SIRET.")])
    return normalized


async def add_structure(
    session: AsyncSession,
    box: PasswordBox,
    *,
    siret: str,
    login: str,
    password: SecretStr,
    vat_regime: str | None = None,
    vat_exemption_reason: str | None = None,
    address: Address | None = None,
    vat_number: str | None = None,
    delivery_format: Channel | None = None,
) -> SupplierStructure:
    """Register a supplier structure, its technical account and its invoice defaults."""
    siret = _checked_siret(siret)
    _check_account(login, password, vat_exemption_reason)
    vat_number = _checked_vat_number(vat_number, siret)
    address = _checked_address(address) or Address()
    exists = StructureExists(f"Structure {siret} is already registered; rotate its password.")
    if await session.get(SupplierStructure, siret) is not None:
        raise exists
    now = utc_now()
    structure = SupplierStructure(
        siret=siret,
        login=login,
        password_ciphertext=box.seal(password),
        vat_regime=vat_regime,
        vat_exemption_reason=vat_exemption_reason,
        address_line1=address.line1,
        address_line2=address.line2,
        postal_code=address.postal_code,
        city=address.city,
        country_code=address.country_code,
        vat_number=vat_number,
        delivery_format=delivery_format,
        created_at=now,
        updated_at=now,
    )
    session.add(structure)
    await flush_or_conflict(session, exists)
    return structure


def _checked_vat_number(vat_number: str | None, siret: str) -> str | None:
    """Normalized, and 422 unless it is a valid French VAT number of this SIRET's company."""
    if vat_number is None:
        return None
    normalized = normalize_code(vat_number.replace(" ", "").replace(".", "").replace("-", ""))
    if not normalized:
        return None
    if not is_valid_french_vat_number(normalized) or normalized[-9:] != siret[:9]:
        raise RequestInvalid(
            errors=[
                Violation(
                    "vat_number",
                    Code.FIELD_INVALID,
                    "Not a valid French VAT number of this SIRET's company (FR + key + SIREN).",
                )
            ]
        )
    return normalized


class Unset:
    """Marks a setting the caller did not send (None would clear it)."""


UNSET = Unset()


async def update_settings(
    session: AsyncSession,
    *,
    siret: str,
    vat_number: str | Unset | None = UNSET,
    delivery_format: Channel | Unset | None = UNSET,
) -> SupplierStructure:
    """Change a structure's invoice defaults; invoices already accepted keep their channel."""
    structure = await get_structure(session, siret)
    if not isinstance(vat_number, Unset):
        structure.vat_number = _checked_vat_number(vat_number, structure.siret)
    if not isinstance(delivery_format, Unset):
        structure.delivery_format = delivery_format
    structure.updated_at = utc_now()
    await session.flush()
    return structure


async def rotate_password(
    session: AsyncSession,
    box: PasswordBox,
    *,
    siret: str,
    password: SecretStr,
    login: str | None = None,
    actor: Actor = COMMAND_LINE,
) -> SupplierStructure:
    """Replace a structure's password (and login); deliveries paused for auth resume."""
    _check_account(login, password)
    structure = await get_structure(session, siret, lock=True)
    login_changed = bool(login) and login != structure.login
    structure.password_ciphertext = box.seal(password)
    if login:
        structure.login = login
    structure.paused_at = None
    structure.paused_reason = None
    structure.updated_at = utc_now()
    await session.flush()
    await record_change(
        session,
        structure.siret,
        EventType.STRUCTURE_PASSWORD_ROTATED,
        actor,
        detail={"login_changed": login_changed},
    )
    return structure


async def resume_structure(
    session: AsyncSession, siret: str, actor: Actor = COMMAND_LINE
) -> SupplierStructure:
    """Lift a delivery pause without changing the password (Chorus refused it by mistake)."""
    structure = await get_structure(session, siret, lock=True)
    was_paused = structure.paused_at is not None
    structure.paused_at = None
    structure.paused_reason = None
    structure.updated_at = utc_now()
    await session.flush()
    if was_paused:
        await record_change(session, structure.siret, EventType.STRUCTURE_RESUMED, actor)
    return structure


async def get_structure(
    session: AsyncSession, siret: str, *, lock: bool = False
) -> SupplierStructure:
    """The structure registered for `siret`, or 404 (its row locked with `lock`, on PostgreSQL)."""
    structure = await session.get(SupplierStructure, _checked_siret(siret), with_for_update=lock)
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


async def pause_structure(session: AsyncSession, siret: str, *, reason: str) -> None:
    """Stop a structure's deliveries until its technical account is fixed."""
    structure = await session.get(SupplierStructure, siret)
    if structure is not None and structure.paused_at is None:
        structure.paused_at = utc_now()
        structure.paused_reason = reason


async def remember_structure_id(session: AsyncSession, siret: str, structure_id: int) -> None:
    """Keep the supplier's `idStructureCPP` so it is looked up once."""
    structure = await session.get(SupplierStructure, siret)
    if structure is not None and structure.chorus_structure_id != structure_id:
        structure.chorus_structure_id = structure_id


async def remember_password_expiry(
    session: AsyncSession, siret: str, expires_at: datetime | None
) -> None:
    """Keep when the structure's technical password expires, as Chorus reported it."""
    structure = await session.get(SupplierStructure, siret)
    if structure is not None:
        structure.password_expires_at = expires_at
        structure.checked_at = utc_now()
