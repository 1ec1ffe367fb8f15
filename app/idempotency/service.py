"""`Idempotency-Key` handling (IETF httpapi draft): claim, replay, conflict, complete, purge.

A key is claimed in its own short transaction, so a concurrent request with the same key sees
it at once (409) instead of waiting; the response is recorded in the request's own transaction,
together with the invoice it created, so both exist or neither does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.base import utc_now
from app.errors import IdempotencyKeyInFlight, IdempotencyKeyInvalid, IdempotencyKeyReused
from app.idempotency.models import IdempotencyRecord

IN_FLIGHT = "in_flight"
COMPLETED = "completed"
MAX_KEY_LENGTH = 255


def checked_key(header: str | None) -> str | None:
    """The `Idempotency-Key` to use, None without the header; 400 for an unusable one.

    An empty key would be stored like any other and block the next empty-key request for the
    key's lifetime; a longer one than the column holds would fail at storage.
    """
    if header is None:
        return None
    if not header.strip():
        raise IdempotencyKeyInvalid("The Idempotency-Key header is empty; send a unique key.")
    if len(header) > MAX_KEY_LENGTH:
        raise IdempotencyKeyInvalid(
            f"The Idempotency-Key header has {len(header)} characters; at most "
            f"{MAX_KEY_LENGTH} are accepted."
        )
    if not header.isprintable() or not header.isascii():
        raise IdempotencyKeyInvalid(
            "The Idempotency-Key header may only hold printable ASCII characters."
        )
    return header


def fingerprint(document: Any) -> str:
    """A stable hash of a JSON-able request, insensitive to key order and spacing."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Replay:
    """The stored response of the first request with this key."""

    status: int
    body: dict[str, Any]
    location: str | None


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """How long keys and their in-flight locks live."""

    ttl: timedelta
    lock: timedelta


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    client_id: str,
    key: str,
    request_fingerprint: str,
    policy: KeyPolicy,
) -> Replay | None:
    """Claim `key` for this request: None means proceed; a `Replay` means answer with it."""
    now = utc_now()
    async with sessionmaker() as session, session.begin():
        inserted = await _insert_if_absent(
            session, client_id, key, request_fingerprint, now, policy
        )
        if inserted:
            return None
        record = await session.get(IdempotencyRecord, (client_id, key), with_for_update=True)
        if record is None or record.expires_at <= now:
            # Expired (or purged just now): the key is free again.
            if record is not None:
                await session.delete(record)
                await session.flush()
            await _insert_if_absent(session, client_id, key, request_fingerprint, now, policy)
            return None
        if record.fingerprint != request_fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used with a different request body."
            )
        if record.state == COMPLETED and record.response_status is not None:
            return Replay(record.response_status, record.response_body or {}, record.resource_path)
        if record.locked_until > now:
            raise IdempotencyKeyInFlight(
                "The first request with this Idempotency-Key is still being processed; retry "
                "later.",
                headers={"Retry-After": "1"},
            )
        # The first request died without finishing: this one takes the key over.
        record.locked_until = now + policy.lock
        return None


async def _insert_if_absent(
    session: AsyncSession,
    client_id: str,
    key: str,
    request_fingerprint: str,
    now: datetime,
    policy: KeyPolicy,
) -> bool:
    dialect = session.get_bind().dialect.name
    values = {
        "client_id": client_id,
        "key": key,
        "fingerprint": request_fingerprint,
        "state": IN_FLIGHT,
        "locked_until": now + policy.lock,
        "created_at": now,
        "expires_at": now + policy.ttl,
    }
    statement: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement = pg_insert(IdempotencyRecord).values(values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(IdempotencyRecord).values(values).on_conflict_do_nothing()
    else:  # pragma: no cover - only the two supported databases reach here
        statement = insert(IdempotencyRecord).values(values)
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0) == 1)


async def complete(
    session: AsyncSession,
    *,
    client_id: str,
    key: str,
    status: int,
    body: dict[str, Any],
    location: str | None,
) -> None:
    """Record the response in the caller's transaction, next to what it created."""
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.client_id == client_id, IdempotencyRecord.key == key)
        .values(state=COMPLETED, response_status=status, response_body=body, resource_path=location)
    )


async def release(
    sessionmaker: async_sessionmaker[AsyncSession], *, client_id: str, key: str
) -> None:
    """Forget a claim whose request failed, so the client may retry with the same key."""
    async with sessionmaker() as session, session.begin():
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.client_id == client_id,
                IdempotencyRecord.key == key,
                IdempotencyRecord.state == IN_FLIGHT,
            )
        )


async def purge_expired(session: AsyncSession, now: datetime | None = None) -> int:
    """Delete the keys past their lifetime; returns how many."""
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= (now or utc_now()))
    )
    return int(getattr(result, "rowcount", 0) or 0)
