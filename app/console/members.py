"""A structure's members page (rattachement): for its principal, and for operators on any structure.

Every action calls one service of `app.structures.members`, which holds the rules; this module
only decides who may open the page (as the API does: the principal of *this* structure, or an
operator; for anyone else the structure does not exist) and words the outcome in French.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.scopes import Scope
from app.auth.service import client_status
from app.console.access import ConsoleError, FormViewerDep, Viewer, ViewerDep
from app.console.labels import refusal
from app.console.templating import render
from app.db.session import SessionDep
from app.dependencies import ResourcesDep
from app.errors import GatewayError, NotFound
from app.resources import Resources
from app.structures import members
from app.structures.audit import Actor
from app.structures.models import StructureAudit

router = APIRouter()
AUDIT_SHOWN = 50

ROLE_LABELS = {"principal": "Gestionnaire principal", "member": "Utilisateur simple"}
STATE_LABELS = {
    "approved": "Rattaché",
    "pending": "En attente",
    "refused": "Refusé",
    "detached": "Détaché",
}
AUDIT_LABELS = {
    "structure.attachment_requested": "Demande de rattachement",
    "structure.attachment_refused": "Demande refusée",
    "structure.member_attached": "Membre rattaché",
    "structure.member_detached": "Membre détaché",
    "structure.principal_changed": "Nouveau gestionnaire principal",
    "structure.member_key_rotated": "Clé de membre renouvelée",
    "structure.password_rotated": "Mot de passe technique remplacé",
    "structure.resumed": "Dépôts repris",
}


def _siret_or_404(siret: str) -> str:
    try:
        return members.checked_siret(siret)
    except GatewayError:
        raise _not_found() from None


def _not_found() -> ConsoleError:
    # One wording for "not yours" and "does not exist": a principal learns nothing of others.
    return ConsoleError(404, "Structure introuvable.")


async def _may_manage(session: AsyncSession, viewer: Viewer, siret: str) -> bool:
    # Read now, not from the session's caller: a principal who passed the role on stops at once.
    return viewer.is_operator or await members.is_principal(session, siret, viewer.caller.client_id)


async def managed_page(siret: str, viewer: ViewerDep, session: SessionDep) -> str:
    """The structure's SIRET when the viewer leads it or is an operator; 404 otherwise."""
    normalized = _siret_or_404(siret)
    if not await _may_manage(session, viewer, normalized):
        raise _not_found()
    return normalized


async def managed_action(siret: str, viewer: FormViewerDep, session: SessionDep) -> str:
    """As `managed_page`, for a form with its CSRF token; a key that leads nothing gets 403."""
    if not viewer.is_operator and not viewer.caller.principal_of:
        raise ConsoleError(
            403, "Cette action est réservée aux gestionnaires principaux et aux clés opérateur."
        )
    normalized = _siret_or_404(siret)
    if not await _may_manage(session, viewer, normalized):
        raise _not_found()
    return normalized


PageSiret = Annotated[str, Depends(managed_page)]
ActionSiret = Annotated[str, Depends(managed_action)]
Field = Annotated[str, Form(max_length=80)]


async def latest_audit(
    session: AsyncSession, siret: str, limit: int = AUDIT_SHOWN
) -> Sequence[StructureAudit]:
    """The structure's latest audit entries, newest first.

    `members.read_audit` pages oldest first (for feed readers); the page wants the latest.
    """
    query = (
        select(StructureAudit)
        .where(StructureAudit.structure_siret == siret)
        .order_by(StructureAudit.seq.desc())
        .limit(limit)
    )
    return (await session.scalars(query)).all()


def _names(rows: Iterable[members.Attached]) -> dict[str, str]:
    return {row.client.id: row.client.name for row in rows}


async def _page(
    request: Request,
    viewer: Viewer,
    session: AsyncSession,
    siret: str,
    *,
    notice: str | None = None,
    error: str | None = None,
    new_key: tuple[str, str] | None = None,
    status: int = 200,
) -> Response:
    try:
        attached = await members.list_members(session, siret)
        pending = await members.list_requests(session, siret)
    except NotFound:
        raise _not_found() from None
    audit = await latest_audit(session, siret)
    context: dict[str, Any] = {
        "viewer": viewer,
        "siret": siret,
        "members": [(row, client_status(row.client)) for row in attached],
        "pending": pending,
        "audit": audit,
        "names": _names([*attached, *pending]),
        "roles": ROLE_LABELS,
        "states": STATE_LABELS,
        "actions": AUDIT_LABELS,
        "key_scopes": sorted(members.MEMBER_KEY_SCOPES),
        "notice": notice,
        "error": error,
        "new_key": new_key,
        "nav": f"membres-{siret}",
    }
    return render(request, "membres.html", context, status)


async def _failed(
    request: Request, viewer: Viewer, session: AsyncSession, siret: str, exc: GatewayError
) -> Response:
    # Nothing half-done stays in the transaction the page is read (and committed) with.
    await session.rollback()
    return await _page(request, viewer, session, siret, error=refusal(exc), status=exc.status)


@router.get("/structures/{siret}/membres", response_class=HTMLResponse)
async def members_page(
    request: Request, siret: PageSiret, viewer: ViewerDep, session: SessionDep
) -> Response:
    """Members, pending requests, the form for a member key, and the audit list."""
    return await _page(request, viewer, session, siret)


MemberChange = Callable[
    [AsyncSession, str, str, Actor], Awaitable[tuple[members.Attached, set[str]]]
]


@dataclass(frozen=True, slots=True)
class MemberForm:
    """A form posted about one client of a structure the viewer manages."""

    request: Request
    siret: str
    client_id: str
    viewer: Viewer
    session: AsyncSession
    resources: Resources


async def member_form(
    request: Request,
    siret: ActionSiret,
    client_id: str,
    viewer: FormViewerDep,
    session: SessionDep,
    resources: ResourcesDep,
) -> MemberForm:
    """The posted form, once the viewer may manage the structure."""
    return MemberForm(request, siret, client_id, viewer, session, resources)


MemberFormDep = Annotated[MemberForm, Depends(member_form)]


async def _change_member(form: MemberForm, change: MemberChange, notice: str) -> Response:
    """Apply `change` as the viewer; `notice` may name the client `{name}`."""
    try:
        found, affected = await change(
            form.session, form.siret, form.client_id, Actor.of(form.viewer.caller)
        )
    except GatewayError as exc:
        return await _failed(form.request, form.viewer, form.session, form.siret, exc)
    form.resources.callers.forget_after_commit(form.session, affected)
    notice = notice.format(name=found.client.name)
    return await _page(form.request, form.viewer, form.session, form.siret, notice=notice)


@router.post("/structures/{siret}/membres/demandes/{client_id}/approuver")
async def approve(form: MemberFormDep) -> Response:
    """Attach a pending requester: it may invoice for the structure at once."""
    notice = f"Demande de {{name}} approuvée : ce client peut facturer pour {form.siret}."
    return await _change_member(form, members.approve_request, notice)


@router.post("/structures/{siret}/membres/demandes/{client_id}/refuser")
async def refuse(
    request: Request, siret: ActionSiret, client_id: str, viewer: FormViewerDep, session: SessionDep
) -> Response:
    """Refuse a pending request (the client may ask again later)."""
    try:
        found = await members.refuse_request(session, siret, client_id, Actor.of(viewer.caller))
    except GatewayError as exc:
        return await _failed(request, viewer, session, siret, exc)
    notice = f"Demande de {found.client.name} refusée."
    return await _page(request, viewer, session, siret, notice=notice)


@router.post("/structures/{siret}/membres/{client_id}/detacher")
async def detach(form: MemberFormDep) -> Response:
    """End a member's attachment: it no longer invoices for, or reads, the structure."""
    notice = f"{{name}} détaché de {form.siret}."
    return await _change_member(form, members.detach_member, notice)


@router.post("/structures/{siret}/membres/cle")
async def create_key(
    request: Request,
    siret: ActionSiret,
    viewer: FormViewerDep,
    session: SessionDep,
    resources: ResourcesDep,
    name: Field,
) -> Response:
    """A new client attached to the structure; its key is shown in this answer only."""
    form = await request.form()
    try:
        scopes = [Scope(str(value)) for value in form.getlist("scopes")]
    except ValueError:
        return await _page(request, viewer, session, siret, error="Portée inconnue.", status=422)
    if not name.strip():
        return await _page(request, viewer, session, siret, error="Un nom.", status=422)
    try:
        found, key, affected = await members.create_member_key(
            session, siret, Actor.of(viewer.caller), name=name.strip(), scopes=scopes
        )
    except GatewayError as exc:
        return await _failed(request, viewer, session, siret, exc)
    resources.callers.forget_after_commit(session, affected)
    return await _page(request, viewer, session, siret, new_key=(found.client.name, key))
