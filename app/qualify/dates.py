"""How Chorus writes a date: its layout, and the time zone a naive one is in. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_QUARTER = timedelta(minutes=15)
# Naive layouts a Chorus date has been or could be seen in, most likely first.
_LAYOUTS = (
    ("%Y-%m-%d %H:%M", "YYYY-MM-DD HH:MM"),
    ("%Y-%m-%d %H:%M:%S", "YYYY-MM-DD HH:MM:SS"),
    ("%Y-%m-%dT%H:%M", "YYYY-MM-DDTHH:MM"),
    ("%Y-%m-%dT%H:%M:%S", "YYYY-MM-DDTHH:MM:SS"),
    ("%Y-%m-%dT%H:%M:%S.%f", "YYYY-MM-DDTHH:MM:SS.fff"),
    ("%d/%m/%Y %H:%M", "DD/MM/YYYY HH:MM"),
    ("%d/%m/%Y %H:%M:%S", "DD/MM/YYYY HH:MM:SS"),
    ("%d/%m/%Y", "DD/MM/YYYY"),
    ("%Y-%m-%d", "YYYY-MM-DD"),
)


def date_layout(raw: str | int) -> str:
    """A readable layout of a Chorus date: `YYYY-MM-DD HH:MM`, `ISO 8601 with offset`..."""
    if isinstance(raw, int) or raw.strip().isdigit():
        return "epoch milliseconds"
    text = raw.strip()
    for layout, label in _LAYOUTS:
        try:
            datetime.strptime(text, layout)
        except ValueError:
            continue
        return label
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return "unrecognised: " + "".join("9" if char.isdigit() else char for char in text)
    return "ISO 8601 with offset" if parsed.tzinfo is not None else "ISO 8601"


def _naive_local(raw: str | int) -> datetime | None:
    """The wall-clock time a naive date shows, or None (no time of day, or an offset given)."""
    if isinstance(raw, int):
        return None
    text = raw.strip()
    for layout, _ in _LAYOUTS:
        if "%H" not in layout:
            continue
        try:
            return datetime.strptime(text, layout)
        except ValueError:
            continue
    return None


def _offset_label(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def infer_zone(raw: str | int, after: datetime, before: datetime) -> str:
    """The time zone a Chorus date is printed in, from an event known to lie in [after, before].

    Dates with an offset or in epoch milliseconds say so themselves; a naive wall-clock time is
    compared with UTC at that moment, to the nearest quarter of an hour.
    """
    if isinstance(raw, int) or str(raw).strip().isdigit():
        return "UTC (epoch)"
    local = _naive_local(raw)
    if local is None:
        try:
            parsed = datetime.fromisoformat(str(raw).strip())
        except ValueError:
            return "unknown"
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            return "unknown"
        return f"explicit offset {_offset_label(parsed.utcoffset() or timedelta())}"
    middle = after.astimezone(UTC) + (before - after) / 2
    # Minute precision truncates the seconds: half a minute back centres the estimate.
    difference = local + timedelta(seconds=30) - middle.replace(tzinfo=None)
    offset = round(difference / _QUARTER) * _QUARTER
    paris = ZoneInfo("Europe/Paris")
    if offset == middle.astimezone(paris).utcoffset():
        return "Europe/Paris"
    if offset == timedelta(0):
        return "UTC"
    return _offset_label(offset)
