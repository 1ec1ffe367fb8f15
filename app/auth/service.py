"""Creating API clients and recognizing them from their keys."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.keys import display_prefix, generate_key, hash_key
from app.auth.models import ApiClient
from app.auth.scopes import Scope
from app.db.types import new_id
from app.domain.identifiers import is_valid_siret, normalize_siret


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated client of a request."""

    client_id: str
    name: str
    scopes: frozenset[Scope]
    supplier_sirets: frozenset[str]

    @property
    def is_operator(self) -> bool:
        """Operators see and act on every invoice."""
        return Scope.OPERATOR in self.scopes

    def may_see_supplier(self, siret: str) -> bool:
        """Whether invoices of supplier `siret` are visible to this caller."""
        return self.is_operator or siret in self.supplier_sirets


async def create_client(
    session: AsyncSession,
    *,
    name: str,
    scopes: Iterable[Scope],
    supplier_sirets: Iterable[str],
) -> tuple[ApiClient, str]:
    """Register a client; returns it with its key, which exists nowhere else afterwards."""
    sirets = sorted({normalize_siret(siret) for siret in supplier_sirets})
    invalid = [siret for siret in sirets if not is_valid_siret(siret)]
    if invalid:
        raise ValueError(f"invalid supplier SIRET(s): {', '.join(invalid)}")
    key = generate_key()
    client = ApiClient(
        id=new_id("cli_"),
        name=name,
        key_prefix=display_prefix(key),
        key_hash=hash_key(key),
        scopes=sorted({str(scope) for scope in scopes}),
        supplier_sirets=sirets,
    )
    session.add(client)
    await session.flush()
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
    await session.flush()
    return key


async def authenticate(session: AsyncSession, key: str) -> Caller | None:
    """The caller holding `key`, or None for an unknown or revoked key."""
    client = await session.scalar(
        select(ApiClient).where(ApiClient.key_hash == hash_key(key), ApiClient.revoked_at.is_(None))
    )
    if client is None:
        return None
    return Caller(
        client_id=client.id,
        name=client.name,
        scopes=frozenset(Scope(scope) for scope in client.scopes),
        supplier_sirets=frozenset(client.supplier_sirets),
    )
