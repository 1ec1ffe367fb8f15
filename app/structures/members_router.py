"""Endpoints of a structure's members, attachment requests and audit list.

Operators act on every structure; a structure's principal on its own only; for anyone else these
structures do not exist (404).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from app.api_types import PageSize, Position
from app.auth import service as clients
from app.db.session import SessionDep
from app.dependencies import ResourcesDep
from app.problems import problem_responses
from app.structures import members
from app.structures.access import ManagedDep, OperatorStructureDep, RequesterDep
from app.structures.members_schemas import (
    AttachIn,
    AuditActor,
    AuditOut,
    AuditPage,
    MemberKeyIn,
    MemberKeyOut,
    MembershipOut,
    PrincipalIn,
    RequestIn,
)
from app.structures.membership_rules import State

router = APIRouter(prefix="/v1/structures/{siret}", tags=["structure members"])

ClientId = Annotated[str, Path(max_length=40, pattern=r"^cli_[0-9A-Z]{26}$")]
NO_STORE = {"Cache-Control": "no-store"}
DEFAULT_AUDIT_LIMIT = 100


def _out(attached: members.Attached) -> MembershipOut:
    membership, client = attached.membership, attached.client
    return MembershipOut.model_validate(
        {
            "client_id": client.id,
            "name": client.name,
            "role": membership.role,
            "state": membership.state,
            "key_issued": membership.key_issued,
            "key_prefix": client.key_prefix,
            "scopes": client.scopes,
            "client_status": clients.client_status(client),
            "note": membership.note,
            "requested_at": membership.requested_at,
            "decided_at": membership.decided_at,
        }
    )


def _with_key(attached: members.Attached, key: str) -> MemberKeyOut:
    return MemberKeyOut(**_out(attached).model_dump(), key=key)


@router.get(
    "/members",
    response_model=list[MembershipOut],
    summary="List a structure's members (principal first)",
    responses=problem_responses(401, 404, 422),
)
async def list_members(managed: ManagedDep, session: SessionDep) -> list[MembershipOut]:
    """The approved members; pending requests are under `/requests`."""
    return [_out(found) for found in await members.list_members(session, managed.siret)]


@router.post(
    "/members",
    status_code=201,
    response_model=MemberKeyOut,
    summary="Create a member key for this structure",
    responses=problem_responses(400, 401, 404, 409, 422),
)
async def create_member_key(
    body: MemberKeyIn,
    managed: ManagedDep,
    session: SessionDep,
    resources: ResourcesDep,
    response: Response,
) -> MemberKeyOut:
    """A new API client attached to this structure; the key is in this answer only."""
    attached, key, affected = await members.create_member_key(
        session,
        managed.siret,
        managed.actor,
        name=body.name,
        scopes=body.scopes,
        expires_at=body.expires_at,
    )
    resources.callers.forget_after_commit(session, affected)
    response.headers.update(NO_STORE)
    return _with_key(attached, key)


@router.put(
    "/members/{client_id}",
    response_model=MembershipOut,
    summary="Attach an existing client (operators)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def attach_member(
    client_id: ClientId,
    body: AttachIn,
    managed: OperatorStructureDep,
    session: SessionDep,
    resources: ResourcesDep,
) -> MembershipOut:
    """Approves any pending request of that client; the first client attached is principal."""
    attached, affected = await members.attach_client(
        session, managed.siret, client_id, managed.actor, body.role
    )
    resources.callers.forget_after_commit(session, affected)
    return _out(attached)


@router.delete(
    "/members/{client_id}",
    status_code=204,
    response_class=Response,
    summary="Detach a member",
    responses=problem_responses(401, 404, 409, 422),
)
async def detach_member(
    client_id: ClientId, managed: ManagedDep, session: SessionDep, resources: ResourcesDep
) -> None:
    """It can no longer invoice for, or read, this structure. 409 PRINCIPAL_REQUIRED for the
    principal while other members remain: pass the role on first."""
    _, affected = await members.detach_member(session, managed.siret, client_id, managed.actor)
    resources.callers.forget_after_commit(session, affected)


@router.post(
    "/members/{client_id}/rotate",
    response_model=MemberKeyOut,
    summary="Give a member a new key",
    responses=problem_responses(401, 404, 409, 422),
)
async def rotate_member_key(
    client_id: ClientId,
    managed: ManagedDep,
    session: SessionDep,
    resources: ResourcesDep,
    response: Response,
) -> MemberKeyOut:
    """Only keys this structure issued (409 KEY_NOT_ISSUED otherwise); the old key stops."""
    attached, key = await members.rotate_member_key(
        session, managed.siret, client_id, managed.actor
    )
    resources.callers.forget_after_commit(session, [client_id])
    response.headers.update(NO_STORE)
    return _with_key(attached, key)


@router.post(
    "/members/{client_id}/revoke",
    status_code=204,
    response_class=Response,
    summary="Revoke a member's key and detach it",
    responses=problem_responses(401, 404, 409, 422),
)
async def revoke_member_key(
    client_id: ClientId, managed: ManagedDep, session: SessionDep, resources: ResourcesDep
) -> None:
    """Only keys this structure issued (409 KEY_NOT_ISSUED otherwise)."""
    _, affected = await members.revoke_member_key(session, managed.siret, client_id, managed.actor)
    resources.callers.forget_after_commit(session, affected)


@router.put(
    "/principal",
    response_model=MembershipOut,
    summary="Pass the principal role to a member",
    responses=problem_responses(401, 404, 409, 422),
)
async def pass_principal(
    body: PrincipalIn, managed: ManagedDep, session: SessionDep, resources: ResourcesDep
) -> MembershipOut:
    """The previous principal stays a member. Operators may name any client (it is attached)."""
    attached, affected = await members.pass_principal(
        session, managed.siret, body.client_id, managed.actor
    )
    resources.callers.forget_after_commit(session, affected)
    return _out(attached)


@router.get(
    "/requests",
    response_model=list[MembershipOut],
    summary="List attachment requests",
    responses=problem_responses(401, 404, 422),
)
async def list_requests(
    managed: ManagedDep,
    session: SessionDep,
    state: Literal["pending", "refused"] = "pending",
) -> list[MembershipOut]:
    """Pending requests by default (`state=refused` for the refused ones), oldest first."""
    found = await members.list_requests(session, managed.siret, (State(state),))
    return [_out(attached) for attached in found]


@router.post(
    "/requests",
    status_code=201,
    response_model=MembershipOut,
    summary="Ask to be attached to this structure",
    responses={
        200: {"description": "Already asked (pending): the request as it stands."},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def request_attachment(
    managed: RequesterDep,
    session: SessionDep,
    response: Response,
    body: RequestIn | None = None,
) -> MembershipOut:
    """Needs `structures:request`. Until the principal approves, the caller may not invoice for
    this SIRET (SUPPLIER_NOT_ALLOWED)."""
    attached, created = await members.request_attachment(
        session,
        managed.siret,
        managed.caller.client_id,
        managed.actor,
        body.note if body else None,
    )
    if not created:
        response.status_code = 200
    return _out(attached)


@router.post(
    "/requests/{client_id}/approve",
    response_model=MembershipOut,
    summary="Approve an attachment request",
    responses=problem_responses(401, 404, 409, 422),
)
async def approve_request(
    client_id: ClientId, managed: ManagedDep, session: SessionDep, resources: ResourcesDep
) -> MembershipOut:
    """The client may invoice for this structure at once (principal if it had none)."""
    attached, affected = await members.approve_request(
        session, managed.siret, client_id, managed.actor
    )
    resources.callers.forget_after_commit(session, affected)
    return _out(attached)


@router.post(
    "/requests/{client_id}/refuse",
    response_model=MembershipOut,
    summary="Refuse an attachment request",
    responses=problem_responses(401, 404, 422),
)
async def refuse_request(
    client_id: ClientId, managed: ManagedDep, session: SessionDep
) -> MembershipOut:
    """The client may ask again later."""
    return _out(await members.refuse_request(session, managed.siret, client_id, managed.actor))


@router.get(
    "/audit",
    response_model=AuditPage,
    summary="Read a structure's audit list",
    responses=problem_responses(401, 404, 422),
)
async def list_audit(
    managed: ManagedDep,
    session: SessionDep,
    after: Annotated[Position, Query(description="The last `position` already seen.")] = 0,
    limit: Annotated[PageSize, Query()] = DEFAULT_AUDIT_LIMIT,
) -> AuditPage:
    """Every change to its members, keys and technical account, oldest first."""
    entries = await members.read_audit(session, managed.siret, after=after, limit=limit)
    items = [
        AuditOut(
            position=entry.seq,
            at=entry.at,
            action=entry.action,
            actor=AuditActor(client_id=entry.actor_client_id, name=entry.actor),
            client_id=entry.subject_client_id,
            detail=entry.detail,
        )
        for entry in entries
    ]
    return AuditPage(items=items, next_after=items[-1].position if items else after)
