"""API clients: creating, listing, revoking and rotating them, and recognizing their keys."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.keys import display_prefix, generate_key, hash_key
from app.auth.models import ApiClient
from app.auth.scopes import Scope
from app.db.base import utc_now
from app.db.types import new_id
from app.domain.identifiers import is_valid_siret, normalize_siret
from app.domain.violations import Code, Violation
from app.errors import Conflict, NotFound, RequestInvalid
from app.structures.membership_rules import APPROVED, PRINCIPAL
from app.structures.models import Membership


class ClientExists(Conflict):
    """Client names are unique."""

    code = "CLIENT_EXISTS"
    title = "API client already exists"


class ClientRevoked(Conflict):
    """A revoked client stays revoked; create a new one instead."""

    code = "CLIENT_REVOKED"
    title = "API client is revoked"


class ClientExpired(Conflict):
    """An expired client cannot get a new key; create a new one instead."""

    code = "CLIENT_EXPIRED"
    title = "API client has expired"


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated client of a request."""

    client_id: str
    name: str
    scopes: frozenset[Scope]
    # Operator-granted SIRETs and those of the structures it is an approved member of.
    supplier_sirets: frozenset[str]
    expires_at: datetime | None = None
    # The structures whose principal manager (gestionnaire principal) it is.
    principal_of: frozenset[str] = frozenset()

    @property
    def is_operator(self) -> bool:
        """Operators see and act on every invoice."""
        return Scope.OPERATOR in self.scopes

    def may_see_supplier(self, siret: str) -> bool:
        """Whether invoices of supplier `siret` are visible to this caller."""
        return self.is_operator or siret in self.supplier_sirets

    def is_expired(self, now: datetime) -> bool:
        """Whether the key's expiry has passed (a cached caller is checked on every request)."""
        return self.expires_at is not None and now >= self.expires_at


def client_status(client: ApiClient, now: datetime | None = None) -> str:
    """`active`, `expired` or `revoked`."""
    if client.revoked_at is not None:
        return "revoked"
    if client.expires_at is not None and (now or utc_now()) >= client.expires_at:
        return "expired"
    return "active"


def _checked_sirets(supplier_sirets: Iterable[str]) -> list[str]:
    sirets = sorted({normalize_siret(siret) for siret in supplier_sirets})
    invalid = [siret for siret in sirets if not is_valid_siret(siret)]
    if invalid:
        raise RequestInvalid(
            f"invalid supplier SIRET(s): {', '.join(invalid)}",
            errors=[
                Violation("supplier_sirets", Code.SIRET_INVALID, f"Not a valid SIRET: {siret}.")
                for siret in invalid
            ],
        )
    return sirets


async def create_client(
    session: AsyncSession,
    *,
    name: str,
    scopes: Iterable[Scope],
    supplier_sirets: Iterable[str],
    expires_at: datetime | None = None,
) -> tuple[ApiClient, str]:
    """Register a client; returns it with its key, which exists nowhere else afterwards."""
    sirets = _checked_sirets(supplier_sirets)
    if expires_at is not None and expires_at <= utc_now():
        raise RequestInvalid(
            "expires_at is in the past",
            errors=[Violation("expires_at", Code.FIELD_INVALID, "Must be in the future.")],
        )
    if await session.scalar(select(ApiClient.id).where(ApiClient.name == name)) is not None:
        raise ClientExists(f"A client named {name!r} already exists.")
    key = generate_key()
    client = ApiClient(
        id=new_id("cli_"),
        name=name,
        key_prefix=display_prefix(key),
        key_hash=hash_key(key),
        scopes=sorted({str(scope) for scope in scopes}),
        supplier_sirets=sirets,
        created_at=utc_now(),
        expires_at=expires_at,
    )
    session.add(client)
    try:
        await session.flush()
    except IntegrityError:
        # Two creations raced past the check above; the unique name let one through.
        raise ClientExists(f"A client named {name!r} already exists.") from None
    return client, key


async def create_or_rotate_client(
    session: AsyncSession,
    *,
    name: str,
    scopes: Iterable[Scope],
    supplier_sirets: Iterable[str],
) -> str:
    """A fresh key for client `name`, created if needed; the previous key stops working."""
    existing = await session.scalar(select(ApiClient).where(ApiClient.name == name))
    if existing is None:
        _, key = await create_client(
            session, name=name, scopes=scopes, supplier_sirets=supplier_sirets
        )
        return key
    key = generate_key()
    existing.key_hash = hash_key(key)
    existing.key_prefix = display_prefix(key)
    existing.scopes = sorted({str(scope) for scope in scopes})
    existing.supplier_sirets = sorted(set(supplier_sirets))
    existing.revoked_at = None
    existing.expires_at = None
    existing.rotated_at = utc_now()
    await session.flush()
    return key


async def list_clients(session: AsyncSession) -> Sequence[ApiClient]:
    """Every client, oldest first (revoked and expired ones included)."""
    return (await session.scalars(select(ApiClient).order_by(ApiClient.id))).all()


async def get_client(session: AsyncSession, client_id: str) -> ApiClient:
    """The client `client_id`, or 404."""
    client = await session.get(ApiClient, client_id)
    if client is None:
        raise NotFound(f"No API client {client_id}.")
    return client


async def find_client(session: AsyncSession, id_or_name: str) -> ApiClient:
    """The client with this id or, failing that, this name; or 404."""
    client = await session.get(ApiClient, id_or_name) or await session.scalar(
        select(ApiClient).where(ApiClient.name == id_or_name)
    )
    if client is None:
        raise NotFound(f"No API client {id_or_name!r}.")
    return client


async def revoke_client(session: AsyncSession, client: ApiClient) -> ApiClient:
    """Refuse the client's key from now on (revoking twice changes nothing)."""
    if client.revoked_at is None:
        client.revoked_at = utc_now()
        await session.flush()
    return client


async def rotate_client(session: AsyncSession, client: ApiClient) -> tuple[ApiClient, str]:
    """Give the client a new key; the old one is refused from now on."""
    now = utc_now()
    if client.revoked_at is not None:
        raise ClientRevoked(f"API client {client.id} is revoked; create a new client.")
    if client.expires_at is not None and now >= client.expires_at:
        raise ClientExpired(f"API client {client.id} has expired; create a new client.")
    key = generate_key()
    client.key_hash = hash_key(key)
    client.key_prefix = display_prefix(key)
    client.rotated_at = now
    await session.flush()
    return client, key


async def authenticate(session: AsyncSession, key: str) -> Caller | None:
    """The caller holding `key`, or None for an unknown, revoked or expired key."""
    client = await session.scalar(
        select(ApiClient).where(
            ApiClient.key_hash == hash_key(key),
            ApiClient.revoked_at.is_(None),
            or_(ApiClient.expires_at.is_(None), ApiClient.expires_at > utc_now()),
        )
    )
    if client is None:
        return None
    return await caller_of(session, client)


async def caller_of(session: AsyncSession, client: ApiClient) -> Caller:
    """The caller an active client acts as: its scopes and the suppliers it may invoice for."""
    # Approved memberships add their structure to what the operator granted; a pending
    # request adds nothing (SUPPLIER_NOT_ALLOWED until its principal approves it).
    attached = (
        await session.execute(
            select(Membership.structure_siret, Membership.role).where(
                Membership.client_id == client.id, Membership.state == APPROVED
            )
        )
    ).all()
    return Caller(
        client_id=client.id,
        name=client.name,
        scopes=frozenset(Scope(scope) for scope in client.scopes),
        supplier_sirets=frozenset(client.supplier_sirets) | {siret for siret, _ in attached},
        expires_at=client.expires_at,
        principal_of=frozenset(siret for siret, role in attached if role == PRINCIPAL),
    )
