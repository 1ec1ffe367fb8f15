"""Endpoints for supplier structures and their technical accounts (operators; a structure's
principal may read it and rotate its password)."""

from __future__ import annotations

from fastapi import APIRouter

from app.api_types import SiretPath
from app.auth.dependencies import OperatorDep
from app.db.session import SessionDep
from app.dependencies import ResourcesDep
from app.domain.invoice import Address
from app.invoices.service import supplier_profile
from app.problems import problem_responses
from app.structures import service
from app.structures.access import ManagedDep, OperatorStructureDep
from app.structures.models import SupplierStructure
from app.structures.schemas import (
    PasswordIn,
    StructureAddress,
    StructureIn,
    StructureOut,
    StructureSettingsIn,
)

router = APIRouter(prefix="/v1/structures", tags=["structures"])


def _out(structure: SupplierStructure) -> StructureOut:
    out = StructureOut.model_validate(structure, from_attributes=True)
    address = service.structure_address(structure)
    if address is not None:
        out.address = StructureAddress.model_validate(address, from_attributes=True)
    return out


@router.post(
    "",
    status_code=201,
    response_model=StructureOut,
    summary="Register a supplier structure and its technical account",
    responses=problem_responses(401, 403, 409, 422),
)
async def add_structure(
    body: StructureIn, session: SessionDep, resources: ResourcesDep, caller: OperatorDep
) -> StructureOut:
    """The password is stored encrypted and never returned."""
    structure = await service.add_structure(
        session,
        resources.password_box,
        siret=body.siret,
        login=body.login,
        password=body.password,
        vat_regime=body.vat_regime,
        vat_exemption_reason=body.vat_exemption_reason,
        address=Address(**body.address.model_dump()) if body.address else None,
        vat_number=body.vat_number,
        delivery_format=body.delivery_format,
    )
    return _out(structure)


@router.patch(
    "/{siret}",
    response_model=StructureOut,
    summary="Change a structure's invoice defaults (VAT number, delivery format)",
    responses=problem_responses(401, 403, 404, 422),
)
async def update_structure(
    siret: SiretPath,
    body: StructureSettingsIn,
    session: SessionDep,
    resources: ResourcesDep,
    managed: OperatorStructureDep,
) -> StructureOut:
    """Only the fields sent change; `null` clears one. Queued invoices keep their channel."""
    sent = body.model_fields_set
    structure = await service.update_settings(
        session,
        siret=siret,
        vat_number=body.vat_number if "vat_number" in sent else service.UNSET,
        delivery_format=body.delivery_format if "delivery_format" in sent else service.UNSET,
    )
    # Before the commit: a post racing it may still read the old row, for the cache's delay.
    resources.suppliers.remember(structure.siret, supplier_profile(structure))
    return _out(structure)


@router.get(
    "",
    response_model=list[StructureOut],
    summary="List supplier structures",
    responses=problem_responses(401, 403, 422),
)
async def list_structures(session: SessionDep, caller: OperatorDep) -> list[StructureOut]:
    """Every registered structure, passwords left out."""
    return [_out(structure) for structure in await service.list_structures(session)]


@router.put(
    "/{siret}/password",
    response_model=StructureOut,
    summary="Rotate a technical account's password",
    responses=problem_responses(401, 404, 422),
)
async def rotate_password(
    body: PasswordIn, session: SessionDep, resources: ResourcesDep, managed: ManagedDep
) -> StructureOut:
    """Operators, or the structure's principal. Takes effect on the next Chorus call."""
    structure = await service.rotate_password(
        session,
        resources.password_box,
        siret=managed.siret,
        password=body.password,
        login=body.login,
        actor=managed.actor,
    )
    return _out(structure)


@router.get(
    "/{siret}",
    response_model=StructureOut,
    summary="Get a supplier structure",
    responses=problem_responses(401, 404, 422),
)
async def get_structure(managed: ManagedDep, session: SessionDep) -> StructureOut:
    """Operators, or the structure's principal; the password is never returned."""
    return _out(await service.get_structure(session, managed.siret))
