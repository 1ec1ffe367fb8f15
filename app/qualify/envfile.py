"""Write settings into a `.env` file: change the lines that set them, append the others.

Every other byte stays as it was: comments, blank lines, order, quoting, line endings, a missing
final newline (one is added only before an appended line).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

_ASSIGNMENT = re.compile(r"^(?P<lead>\s*(?:export\s+)?)(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=")


def _ending(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def update_env_text(text: str, changes: Mapping[str, str]) -> str:
    """`text` with each `KEY=...` line of `changes` rewritten and the missing keys appended."""
    newline = _ending(text)
    lines = text.splitlines(keepends=True)
    seen: set[str] = set()
    out: list[str] = []
    for line in lines:
        match = _ASSIGNMENT.match(line)
        key = match.group("key") if match else ""
        if match is None or key not in changes:
            out.append(line)
            continue
        seen.add(key)
        body = line.rstrip("\r\n")
        out.append(f"{match.group('lead')}{key}={changes[key]}{line[len(body) :]}")
    missing = [key for key in changes if key not in seen]
    if missing:
        if out and not out[-1].endswith(("\n", "\r")):
            out[-1] += newline
        out.extend(f"{key}={changes[key]}{newline}" for key in missing)
    return "".join(out)


def apply_to_env_file(path: Path, changes: Mapping[str, str]) -> None:
    """Write `changes` into the file at `path` (created when missing)."""
    text = path.read_bytes().decode("utf-8") if path.exists() else ""
    updated = update_env_text(text, changes)
    if updated != text:
        path.write_bytes(updated.encode("utf-8"))


def read_env_value(text: str, key: str) -> str | None:
    """The value the last `KEY=` line sets (unquoted), or None."""
    value = None
    for line in text.splitlines():
        match = _ASSIGNMENT.match(line)
        if match and match.group("key") == key:
            value = line[match.end() :].strip().strip("\"'")
    return value
