"""Structure members (Chorus Pro's rattachement): requests, approvals, the principal, member keys.

Every change locks the structure's row first, so changes to one structure happen one at a time
(the first client attached becomes principal exactly once) and its audit list is in commit order.
Each use case returns the ids of the clients whose rights changed: the caller forgets them in the
auth cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as clients
from app.auth.models import ApiClient
from app.auth.scopes import Scope
from app.db.base import utc_now
from app.db.conflicts import flush_or_conflict
from app.db.types import new_id
from app.domain.identifiers import is_valid_siret, normalize_siret
from app.domain.violations import Code, Violation
from app.errors import Conflict, NotFound, RequestInvalid
from app.events.types import EventType
from app.structures.audit import Actor, audit_after, record_change
from app.structures.membership_rules import (
    Role,
    State,
    detach_problem,
    request_problem,
    role_on_attach,
)
from app.structures.models import Membership, StructureAudit, SupplierStructure

# What a principal may put on a key it issues: never more than invoicing for its structure.
MEMBER_KEY_SCOPES = frozenset({Scope.INVOICES_WRITE, Scope.INVOICES_READ})


class PrincipalRequired(Conflict):
    """A structure with members always keeps one principal."""

    code = "PRINCIPAL_REQUIRED"
    title = "The structure needs its principal"


class AlreadyMember(Conflict):
    """The client is already attached to this structure."""

    code = "ALREADY_MEMBER"
    title = "Already attached"


class KeyNotIssued(Conflict):
    """The member's key was issued by an operator, not by this structure."""

    code = "KEY_NOT_ISSUED"
    title = "Key not issued by this structure"


@dataclass(frozen=True, slots=True)
class Attached:
    """A membership with its client, as the endpoints show them."""

    membership: Membership
    client: ApiClient


def checked_siret(siret: str) -> str:
    """The normalized SIRET, or 422."""
    normalized = normalize_siret(siret)
    if not is_valid_siret(normalized):
        raise RequestInvalid(errors=[Violation("siret", Code.SIRET_INVALID, "Not a valid SIRET.")])
    return normalized


def _no_structure(siret: str) -> NotFound:
    return NotFound(f"No supplier structure {siret}.")


async def is_principal(session: AsyncSession, siret: str, client_id: str) -> bool:
    """Whether `client_id` is the approved principal of structure `siret` (read now, not cached)."""
    found = await session.scalar(
        select(Membership.id).where(
            Membership.structure_siret == siret,
            Membership.client_id == client_id,
            Membership.role == Role.PRINCIPAL,
            Membership.state == State.APPROVED,
        )
    )
    return found is not None


async def lock_structure(session: AsyncSession, siret: str) -> SupplierStructure:
    """The structure, its row locked until the transaction ends (PostgreSQL), or 404."""
    structure = await session.get(SupplierStructure, siret, with_for_update=True)
    if structure is None:
        raise _no_structure(siret)
    return structure


async def _membership(session: AsyncSession, siret: str, client_id: str) -> Membership | None:
    return await session.scalar(
        select(Membership).where(
            Membership.structure_siret == siret, Membership.client_id == client_id
        )
    )


async def _principal(session: AsyncSession, siret: str) -> Membership | None:
    return await session.scalar(
        select(Membership).where(
            Membership.structure_siret == siret, Membership.role == Role.PRINCIPAL
        )
    )


async def _in_state(
    session: AsyncSession, siret: str, client_id: str, state: State, what: str
) -> Membership:
    """The client's membership in `state`, or 404 (a principal sees nothing else)."""
    membership = await _membership(session, siret, client_id)
    if membership is None or membership.state != state:
        raise NotFound(f"No {what} {client_id} in structure {siret}.")
    return membership


async def _active_client(session: AsyncSession, client_id: str) -> ApiClient:
    client = await clients.get_client(session, client_id)
    status = clients.client_status(client)
    if status == "revoked":
        raise clients.ClientRevoked(f"API client {client_id} is revoked.")
    if status == "expired":
        raise clients.ClientExpired(f"API client {client_id} has expired.")
    return client


def _set_state(membership: Membership, state: State, role: Role, now: datetime) -> None:
    membership.state = state
    membership.role = role
    membership.decided_at = now
    membership.updated_at = now


async def _attach(
    session: AsyncSession,
    siret: str,
    client: ApiClient,
    actor: Actor,
    *,
    wanted: Role,
    membership: Membership | None = None,
    key_issued: bool = False,
) -> tuple[Membership, set[str]]:
    """Approve `client`'s attachment; the first attached (or a wanted principal) leads."""
    now = utc_now()
    principal = await _principal(session, siret)
    affected = {client.id}
    role = role_on_attach(has_principal=principal is not None, wanted=wanted)
    if principal is not None and principal.client_id == client.id:
        role = Role.PRINCIPAL  # only naming another principal demotes this one
    if role is Role.PRINCIPAL and principal is not None and principal.client_id != client.id:
        # Demoted first, and flushed: the one-principal index checks each statement.
        principal.role = Role.MEMBER
        principal.updated_at = now
        await session.flush()
        affected.add(principal.client_id)
    if membership is None:
        membership = await _membership(session, siret, client.id)
    if membership is None:
        membership = Membership(
            id=new_id("mbr_"),
            structure_siret=siret,
            client_id=client.id,
            key_issued=key_issued,
            created_at=now,
        )
        session.add(membership)
    was_attached = membership.state == State.APPROVED
    old_role = membership.role
    _set_state(membership, State.APPROVED, role, now)
    await flush_or_conflict(
        session, Conflict(f"Structure {siret} changed at the same time; try again.")
    )
    if not was_attached:
        await record_change(
            session,
            siret,
            EventType.STRUCTURE_MEMBER_ATTACHED,
            actor,
            subject_client_id=client.id,
            detail={"role": role.value, "key_issued": membership.key_issued},
        )
    if role is Role.PRINCIPAL and (not was_attached or old_role != Role.PRINCIPAL):
        await record_change(
            session,
            siret,
            EventType.STRUCTURE_PRINCIPAL_CHANGED,
            actor,
            subject_client_id=client.id,
            detail={"previous_client_id": principal.client_id if principal else None},
        )
    return membership, affected


async def list_members(session: AsyncSession, siret: str) -> list[Attached]:
    """The approved members, principal first, then by attachment."""
    return await _listed(session, siret, (State.APPROVED,))


async def list_requests(
    session: AsyncSession, siret: str, states: Iterable[State] = (State.PENDING,)
) -> list[Attached]:
    """Attachment requests in `states` (pending by default), oldest first."""
    return await _listed(session, siret, tuple(states))


async def _listed(session: AsyncSession, siret: str, states: tuple[State, ...]) -> list[Attached]:
    if await session.get(SupplierStructure, siret) is None:
        raise _no_structure(siret)
    rows = (
        await session.execute(
            select(Membership, ApiClient)
            .join(ApiClient, ApiClient.id == Membership.client_id)
            .where(
                Membership.structure_siret == siret,
                Membership.state.in_([str(state) for state in states]),
            )
            .order_by(Membership.role.desc(), Membership.decided_at, Membership.requested_at)
        )
    ).all()
    return [Attached(membership, client) for membership, client in rows]


async def request_attachment(
    session: AsyncSession, siret: str, client_id: str, actor: Actor, note: str | None = None
) -> tuple[Attached, bool]:
    """File (or re-file) `client_id`'s request to join; True when a new request was filed."""
    await lock_structure(session, siret)
    client = await _active_client(session, client_id)
    membership = await _membership(session, siret, client_id)
    if membership is not None and membership.state == State.PENDING:
        return Attached(membership, client), False
    problem = request_problem(State(membership.state) if membership else None)
    if problem:
        raise AlreadyMember(problem)
    now = utc_now()
    if membership is None:
        membership = Membership(
            id=new_id("mbr_"),
            structure_siret=siret,
            client_id=client_id,
            key_issued=False,
            created_at=now,
        )
        session.add(membership)
    membership.state = State.PENDING
    membership.role = Role.MEMBER
    membership.note = note
    membership.requested_at = now
    membership.decided_at = None
    membership.updated_at = now
    await flush_or_conflict(session, Conflict(f"A request for {siret} was filed at once."))
    await record_change(
        session,
        siret,
        EventType.STRUCTURE_ATTACHMENT_REQUESTED,
        actor,
        subject_client_id=client_id,
        detail={"note": note} if note else None,
    )
    return Attached(membership, client), True


async def approve_request(
    session: AsyncSession, siret: str, client_id: str, actor: Actor
) -> tuple[Attached, set[str]]:
    """Attach a pending requester (as principal when the structure has none yet)."""
    await lock_structure(session, siret)
    membership = await _in_state(session, siret, client_id, State.PENDING, "pending request")
    client = await _active_client(session, client_id)
    membership, affected = await _attach(
        session, siret, client, actor, wanted=Role.MEMBER, membership=membership
    )
    return Attached(membership, client), affected


async def refuse_request(
    session: AsyncSession, siret: str, client_id: str, actor: Actor
) -> Attached:
    """Refuse a pending request; the client may ask again later."""
    await lock_structure(session, siret)
    membership = await _in_state(session, siret, client_id, State.PENDING, "pending request")
    client = await clients.get_client(session, client_id)
    _set_state(membership, State.REFUSED, Role.MEMBER, utc_now())
    await session.flush()
    await record_change(
        session, siret, EventType.STRUCTURE_ATTACHMENT_REFUSED, actor, subject_client_id=client_id
    )
    return Attached(membership, client)


async def attach_client(
    session: AsyncSession, siret: str, client_id: str, actor: Actor, role: Role = Role.MEMBER
) -> tuple[Attached, set[str]]:
    """An operator attaches an existing client directly (approving any request it made)."""
    await lock_structure(session, siret)
    client = await _active_client(session, client_id)
    membership, affected = await _attach(session, siret, client, actor, wanted=role)
    return Attached(membership, client), affected


async def pass_principal(
    session: AsyncSession, siret: str, client_id: str, actor: Actor
) -> tuple[Attached, set[str]]:
    """Make an approved member the principal; the previous principal stays a member.

    Operators may name any active client, which is attached on the way.
    """
    await lock_structure(session, siret)
    if not actor.is_operator:
        await _in_state(session, siret, client_id, State.APPROVED, "member")
    client = await _active_client(session, client_id)
    membership, affected = await _attach(session, siret, client, actor, wanted=Role.PRINCIPAL)
    return Attached(membership, client), affected


async def detach_member(
    session: AsyncSession, siret: str, client_id: str, actor: Actor, *, revoked_key: bool = False
) -> tuple[Attached, set[str]]:
    """End an approved member's attachment; its rights for this structure stop."""
    await lock_structure(session, siret)
    membership = await _in_state(session, siret, client_id, State.APPROVED, "member")
    others = await session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(
            Membership.structure_siret == siret,
            Membership.state == State.APPROVED,
            Membership.client_id != client_id,
        )
    )
    problem = detach_problem(role=Role(membership.role), other_members=others or 0)
    if problem:
        raise PrincipalRequired(problem)
    client = await clients.get_client(session, client_id)
    if revoked_key:
        _check_key_issued(membership, actor)
        await clients.revoke_client(session, client)
    was_role = membership.role
    _set_state(membership, State.DETACHED, Role.MEMBER, utc_now())
    await session.flush()
    await record_change(
        session,
        siret,
        EventType.STRUCTURE_MEMBER_DETACHED,
        actor,
        subject_client_id=client_id,
        detail={"role": was_role, "key_revoked": revoked_key},
    )
    return Attached(membership, client), {client_id}


def _check_key_issued(membership: Membership, actor: Actor) -> None:
    # A key the operator issued may serve other structures: only an operator touches it.
    if not membership.key_issued and not actor.is_operator:
        raise KeyNotIssued(
            f"The key of {membership.client_id} was issued by an operator; "
            "detach the client instead, or ask an operator."
        )


async def create_member_key(
    session: AsyncSession,
    siret: str,
    actor: Actor,
    *,
    name: str,
    scopes: Iterable[Scope],
    expires_at: datetime | None = None,
) -> tuple[Attached, str, set[str]]:
    """A new client attached to the structure, with its key (returned once)."""
    await lock_structure(session, siret)
    wanted = set(scopes)
    if not wanted or not wanted <= MEMBER_KEY_SCOPES:
        allowed = ", ".join(sorted(MEMBER_KEY_SCOPES))
        raise RequestInvalid(
            errors=[Violation("scopes", Code.FIELD_INVALID, f"A member key holds {allowed}.")]
        )
    # Named under the structure: names are unique per structure, and a principal learns
    # nothing about other structures' clients from a name clash.
    client, key = await clients.create_client(
        session,
        name=f"{siret}/{name}",
        scopes=sorted(wanted),
        supplier_sirets=[],
        expires_at=expires_at,
    )
    membership, affected = await _attach(
        session, siret, client, actor, wanted=Role.MEMBER, key_issued=True
    )
    return Attached(membership, client), key, affected


async def rotate_member_key(
    session: AsyncSession, siret: str, client_id: str, actor: Actor
) -> tuple[Attached, str]:
    """A new key for a member whose key the structure issued; the old key stops."""
    await lock_structure(session, siret)
    membership = await _in_state(session, siret, client_id, State.APPROVED, "member")
    _check_key_issued(membership, actor)
    client, key = await clients.rotate_client(session, await clients.get_client(session, client_id))
    await record_change(
        session, siret, EventType.STRUCTURE_MEMBER_KEY_ROTATED, actor, subject_client_id=client_id
    )
    return Attached(membership, client), key


async def revoke_member_key(
    session: AsyncSession, siret: str, client_id: str, actor: Actor
) -> tuple[Attached, set[str]]:
    """Revoke a member key the structure issued, and detach its client."""
    return await detach_member(session, siret, client_id, actor, revoked_key=True)


async def read_audit(
    session: AsyncSession, siret: str, *, after: int, limit: int
) -> Sequence[StructureAudit]:
    """The structure's audit entries after `after`, oldest first (404 for an unknown one)."""
    if await session.get(SupplierStructure, siret) is None:
        raise _no_structure(siret)
    return await audit_after(session, siret, after=after, limit=limit)


async def memberships_of(session: AsyncSession, client_id: str) -> Sequence[Membership]:
    """Every membership of one client (any state)."""
    query = select(Membership).where(Membership.client_id == client_id)
    return (await session.scalars(query.order_by(Membership.structure_siret))).all()
