"""A short-lived, per-process memory of recognized API keys.

Every request would otherwise cost a database round trip before any work starts. Keys are
looked up by hash, so the cache holds no key. A key revoked or rotated through this process's
API stops at once (its entries are dropped); in other processes (other API workers, or after
`gateway clients revoke`) it keeps working for at most `API_AUTH_CACHE_SECONDS`. An expiry is
checked on every request, cached or not.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from app.auth.keys import hash_key
from app.auth.service import Caller

MAX_ENTRIES = 10_000


class CallerCache:
    """Callers by key hash, each kept `ttl_seconds`."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, tuple[Caller, float]] = {}

    def get(self, key: str) -> Caller | None:
        """The caller remembered for `key`, if still fresh."""
        entry = self._entries.get(hash_key(key))
        if entry is None or self._clock() >= entry[1]:
            return None
        return entry[0]

    def put(self, key: str, caller: Caller) -> None:
        """Remember `caller` for `key`."""
        if self._ttl <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()  # bounded memory; a rebuild costs one lookup per client
        self._entries[hash_key(key)] = (caller, self._clock() + self._ttl)

    def forget(self, client_id: str) -> None:
        """Drop every key remembered for `client_id` (revoked or rotated here)."""
        stale = [
            digest for digest, (caller, _) in self._entries.items() if caller.client_id == client_id
        ]
        for digest in stale:
            del self._entries[digest]
