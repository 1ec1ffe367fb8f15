"""A short-lived, per-process memory of recognized API keys.

Every request would otherwise cost a database round trip before any work starts. Keys are
looked up by hash, so the cache holds no key. A key revoked or rotated through this process's
API stops at once (its entries are dropped); in other processes (other API workers, or after
`gateway clients revoke`) it keeps working for at most `API_AUTH_CACHE_SECONDS`. An expiry is
checked on every request, cached or not. The same holds for the suppliers a caller gains or
loses with a structure membership (approve, detach, principal change).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.keys import hash_key
from app.auth.service import Caller

MAX_ENTRIES = 10_000


class CallerCache:
    """Callers by key hash, each kept `ttl_seconds`."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, tuple[Caller, float]] = {}
        # Bumped by every `forget`: a lookup that started before one may have read the old
        # rights, so what it found is not remembered (see `put`).
        self._generation = 0

    @property
    def generation(self) -> int:
        """Read before a lookup, handed back to `put`."""
        return self._generation

    def get(self, key: str) -> Caller | None:
        """The caller remembered for `key`, if still fresh."""
        entry = self._entries.get(hash_key(key))
        if entry is None or self._clock() >= entry[1]:
            return None
        return entry[0]

    def put(self, key: str, caller: Caller, generation: int | None = None) -> None:
        """Remember `caller` for `key`, unless a `forget` happened since `generation`."""
        if self._ttl <= 0 or (generation is not None and generation != self._generation):
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()  # bounded memory; a rebuild costs one lookup per client
        self._entries[hash_key(key)] = (caller, self._clock() + self._ttl)

    def forget(self, client_id: str) -> None:
        """Drop every key remembered for `client_id` (revoked or rotated here)."""
        self._generation += 1
        stale = [
            digest for digest, (caller, _) in self._entries.items() if caller.client_id == client_id
        ]
        for digest in stale:
            del self._entries[digest]

    def forget_after_commit(self, session: AsyncSession, client_ids: Iterable[str]) -> None:
        """Forget these clients now and again once `session` commits.

        Between now and the commit another request may still read the old rights; the second
        pass (and the generation check in `put`) keeps them from outliving the commit.
        """
        ids = sorted(set(client_ids))
        for client_id in ids:
            self.forget(client_id)

        def after_commit(_: object) -> None:
            for client_id in ids:
                self.forget(client_id)

        event.listen(session.sync_session, "after_commit", after_commit, once=True)
