"""A short-lived, per-process memory of registered supplier structures.

Every submission reads its supplier's structure (registered? which defaults and channel?) in a
transaction of its own; the same few suppliers post all day, so one process remembers each for
`API_SUPPLIER_CACHE_SECONDS`. A change made through this process's API is seen at once (the
structures router hands the new profile over); one made elsewhere (another API process, the
CLI, the database) within that delay. "Not registered" is never remembered: it is an error path,
and a structure just registered must be usable at once from any process.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from app.chorus.cache import ExpiringLru
from app.invoices.service import SupplierLookup, SupplierProfile

MAX_ENTRIES = 10_000


class SupplierCache:
    """Supplier profiles by SIRET, each kept `ttl_seconds` (0: read every time)."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._profiles: ExpiringLru[str, SupplierProfile] = ExpiringLru(MAX_ENTRIES, clock)

    async def find(self, read: SupplierLookup, siret: str) -> SupplierProfile | None:
        """The supplier's registered profile, remembered or `read` (`service.SupplierLookup`)."""
        cached = self._profiles.get(siret)
        if cached is not None:
            return cached[0]
        profile = await read(siret)
        if profile is not None:
            self._profiles.put(siret, profile, self._ttl)
        return profile

    def remember(self, siret: str, profile: SupplierProfile) -> None:
        """Replace what is remembered for `siret` by a structure just changed here."""
        self._profiles.put(siret, profile, self._ttl)
