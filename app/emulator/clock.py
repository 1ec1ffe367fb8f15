"""The emulator's notion of "now", which tests and demos can freeze or move forward."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def _system_now() -> datetime:
    return datetime.now(UTC)


class Clock:
    """Wall-clock time (UTC) plus an offset that `advance` moves forward.

    Token expiry and the automatic lifecycle both read this clock, so a test can move an invoice
    along or expire a token without sleeping.
    """

    def __init__(self, source: Callable[[], datetime] = _system_now) -> None:
        self._source = source
        self._offset = timedelta()

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        return self._source() + self._offset

    def advance(self, seconds: float) -> datetime:
        """Move time forward (never backward) and return the new instant."""
        if seconds < 0:
            raise ValueError("the emulator clock only moves forward")
        self._offset += timedelta(seconds=seconds)
        return self.now()


def frozen_clock(at: datetime) -> Clock:
    """A clock standing still at `at` until advanced: the deterministic choice for tests."""
    return Clock(lambda: at)
