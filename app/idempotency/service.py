"""`Idempotency-Key` handling (IETF httpapi draft): remember, replay, conflict, purge.

A key is written in the same transaction as the invoice it created, already holding the
response: both exist or neither does. A concurrent request with the same key waits on the key's
unique index until the first commits (then replays its answer) or rolls back (then proceeds).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utc_now
from app.errors import IdempotencyKeyInFlight, IdempotencyKeyInvalid, IdempotencyKeyReused
from app.idempotency.models import IdempotencyRecord

COMPLETED = "completed"
# Only written by releases before the key moved into the invoice's transaction: such a row may
# still be found during a rolling upgrade.
IN_FLIGHT = "in_flight"
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
    # The draft makes the key a Structured Field string (RFC 8941): printable ASCII only.
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


def completed_record(
    *,
    client_id: str,
    key: str,
    request_fingerprint: str,
    status: int,
    body: dict[str, Any],
    location: str | None,
    ttl: timedelta,
    now: datetime,
) -> dict[str, Any]:
    """The row that remembers a response, to insert with what the request created."""
    return {
        "client_id": client_id,
        "key": key,
        "fingerprint": request_fingerprint,
        "state": COMPLETED,
        "locked_until": now,
        "response_status": status,
        "response_body": body,
        "resource_path": location,
        "created_at": now,
        "expires_at": now + ttl,
    }


async def earlier_answer(
    session: AsyncSession, *, client_id: str, key: str, request_fingerprint: str
) -> Replay | None:
    """After a request found its key taken: the answer to replay, or None when the key is free
    again (expired, or left by a request that died), in which case it is deleted.

    Call it once the attempt that found the key taken is undone (its savepoint rolled back).
    """
    now = utc_now()
    record = await session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.client_id == client_id, IdempotencyRecord.key == key
        )
    )
    if record is None:
        return None
    if record.expires_at <= now or (record.state != COMPLETED and record.locked_until <= now):
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.client_id == client_id, IdempotencyRecord.key == key
            )
        )
        return None
    if record.fingerprint != request_fingerprint:
        raise IdempotencyKeyReused("This Idempotency-Key was used with a different request body.")
    if record.state != COMPLETED or record.response_status is None:
        raise IdempotencyKeyInFlight(
            "The first request with this Idempotency-Key is still being processed; retry later.",
            headers={"Retry-After": "1"},
        )
    return Replay(record.response_status, record.response_body or {}, record.resource_path)


async def purge_expired(session: AsyncSession, now: datetime | None = None) -> int:
    """Delete the keys past their lifetime; returns how many."""
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= (now or utc_now()))
    )
    return int(getattr(result, "rowcount", 0) or 0)
