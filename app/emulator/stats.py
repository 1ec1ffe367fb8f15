"""Counters the control API reports: calls per endpoint, faults fired, refusals answered."""

from __future__ import annotations

from collections import Counter


class Stats:
    """What happened since start-up or the last reset (not persisted)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.faults_fired: Counter[str] = Counter()
        self.refusals: Counter[int] = Counter()

    def clear(self) -> None:
        """Start counting again from zero."""
        self.calls.clear()
        self.faults_fired.clear()
        self.refusals.clear()

    def as_dict(self) -> dict[str, dict[str, int]]:
        """A JSON-ready view."""
        return {
            "calls": dict(self.calls),
            "faults_fired": dict(self.faults_fired),
            "refusals": {str(code): count for code, count in self.refusals.items()},
        }
