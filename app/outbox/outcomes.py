"""What handling an outbox item came to, decided outside any transaction.

A handler makes its HTTP calls with no database transaction open, then returns one of these.
The worker records it in a new transaction **only if it still holds the item's lease**; the
optional `apply` runs in that same transaction, so domain changes (an invoice's status, its
events) land exactly when the outcome does, and never after another worker took the item over.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

Apply = Callable[[AsyncSession], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Done:
    """Finished: the item will not run again."""

    apply: Apply | None = None


@dataclass(frozen=True, slots=True)
class RetryLater:
    """A failure worth retrying; the retry policy picks the delay (at least `retry_after`)."""

    error: str
    retry_after: float | None = None
    apply: Apply | None = None
    # Called instead of `apply` when the retry budget is spent and the item becomes failed.
    on_give_up: Apply | None = None


@dataclass(frozen=True, slots=True)
class Reschedule:
    """Not a failure: run again at `at` (status polling, a paused structure), attempts unchanged."""

    at: datetime
    note: str | None = None
    apply: Apply | None = None


@dataclass(frozen=True, slots=True)
class GiveUp:
    """A failure retrying cannot fix: the item becomes failed now."""

    error: str
    apply: Apply | None = None


Outcome = Done | RetryLater | Reschedule | GiveUp
