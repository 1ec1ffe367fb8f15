"""The run's outcome: a table for the terminal and a JSON report for the file. Pure."""

from __future__ import annotations

import json
import textwrap
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from itertools import zip_longest
from typing import Any

from app.qualify.facts import Fact
from app.qualify.observations import Observations

REPORT_VERSION = 1
# Column widths of the table: fact, assumed, observed, match.
_WIDTHS = (26, 40, 48, 5)
_MATCH = {True: "yes", False: "NO", None: "?"}


@dataclass(frozen=True, slots=True)
class Qualification:
    """What the run saw, the facts judged from it, and the settings that would match it."""

    observations: Observations
    facts: list[Fact]
    changes: dict[str, str] = field(default_factory=dict)

    @property
    def mismatches(self) -> list[Fact]:
        """The facts where Chorus did not do what the gateway assumes."""
        return [fact for fact in self.facts if fact.matches is False]


def _cell(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]


def render_table(facts: list[Fact]) -> str:
    """Fact, what the gateway assumed, what Chorus did, match: wrapped to fixed columns."""
    header = ("FACT", "GATEWAY ASSUMES", "CHORUS DID", "MATCH")
    rows = [header, *((f.name, f.assumed, f.observed, _MATCH[f.matches]) for f in facts)]
    out: list[str] = []
    for index, row in enumerate(rows):
        cells = [_cell(text, width) for text, width in zip(row, _WIDTHS, strict=True)]
        for parts in zip_longest(*cells, fillvalue=""):
            out.append("  ".join(p.ljust(w) for p, w in zip(parts, _WIDTHS, strict=True)).rstrip())
        if index == 0:
            out.append("  ".join("-" * width for width in _WIDTHS))
    notes = [f"- {fact.name}: {fact.note}" for fact in facts if fact.note and not fact.matches]
    if notes:
        out += ["", "Notes:", *notes]
    return "\n".join(out)


def render_changes(changes: dict[str, str], current: dict[str, str | None]) -> str:
    """The settings to write, with the value each has now."""
    return "\n".join(
        f"  {key}={value}    (now: {current.get(key) or 'default'})"
        for key, value in changes.items()
    )


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def to_document(qualification: Qualification) -> dict[str, Any]:
    """The JSON report: every fact, the settings that differ, and the raw observations."""
    seen = qualification.observations
    return {
        "version": REPORT_VERSION,
        "target": seen.target,
        "api_url": seen.api_url,
        "supplier_siret": seen.supplier_siret,
        "started_at": seen.started_at,
        "finished_at": seen.finished_at,
        "facts": [asdict(fact) for fact in qualification.facts],
        "settings_to_change": qualification.changes,
        "invoices_created": [asdict(invoice) for invoice in seen.created],
        "step_errors": seen.errors,
        "observations": asdict(seen),
    }


def render_json(qualification: Qualification) -> str:
    """The JSON report as written to the file (two-space indent, final newline)."""
    return (
        json.dumps(to_document(qualification), indent=2, ensure_ascii=False, default=_plain) + "\n"
    )
