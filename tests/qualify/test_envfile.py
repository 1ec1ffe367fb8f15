"""Writing settings into a `.env`: changed lines, appended keys, every other byte kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.qualify.envfile import apply_to_env_file, read_env_value, update_env_text

CHANGE = {"CHORUS_SAISIE_KEEPS_NUMBER": "true"}


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            "# comment\nCHORUS_SAISIE_KEEPS_NUMBER=false\nOTHER=1\n",
            "# comment\nCHORUS_SAISIE_KEEPS_NUMBER=true\nOTHER=1\n",
        ),
        (
            "export CHORUS_SAISIE_KEEPS_NUMBER = false\n",
            "export CHORUS_SAISIE_KEEPS_NUMBER=true\n",
        ),
        ("A=1\r\nCHORUS_SAISIE_KEEPS_NUMBER=0\r\n", "A=1\r\nCHORUS_SAISIE_KEEPS_NUMBER=true\r\n"),
        ("A=1\n", "A=1\nCHORUS_SAISIE_KEEPS_NUMBER=true\n"),
        ("A=1", "A=1\nCHORUS_SAISIE_KEEPS_NUMBER=true\n"),
        ("A=1\r\nB=2\r\n", "A=1\r\nB=2\r\nCHORUS_SAISIE_KEEPS_NUMBER=true\r\n"),
        ("", "CHORUS_SAISIE_KEEPS_NUMBER=true\n"),
        (
            "# CHORUS_SAISIE_KEEPS_NUMBER=false\nCHORUS_SAISIE_KEEPS_NUMBER_X=1\n",
            "# CHORUS_SAISIE_KEEPS_NUMBER=false\nCHORUS_SAISIE_KEEPS_NUMBER_X=1\n"
            "CHORUS_SAISIE_KEEPS_NUMBER=true\n",
        ),
        (
            "CHORUS_SAISIE_KEEPS_NUMBER=false\nCHORUS_SAISIE_KEEPS_NUMBER=false\n",
            "CHORUS_SAISIE_KEEPS_NUMBER=true\nCHORUS_SAISIE_KEEPS_NUMBER=true\n",
        ),
    ],
)
def test_a_setting_line_is_rewritten_or_appended_and_the_rest_kept(before: str, after: str) -> None:
    assert update_env_text(before, CHANGE) == after


def test_nothing_changes_without_changes() -> None:
    text = "  # odd   spacing\n\nA='quoted value'  \nB=2"
    assert update_env_text(text, {}) == text


def test_the_file_is_created_or_updated_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    apply_to_env_file(path, CHANGE)
    assert path.read_bytes() == b"CHORUS_SAISIE_KEEPS_NUMBER=true\n"

    original = "# é accents\r\nAPI_PORT=8000\r\nCHORUS_SAISIE_KEEPS_NUMBER=true\r\n".encode()
    path.write_bytes(original)
    apply_to_env_file(path, {"CHORUS_SAISIE_KEEPS_NUMBER": "false"})
    assert path.read_bytes() == original.replace(b"=true", b"=false")


def test_the_value_read_back_is_the_last_one_unquoted() -> None:
    text = "X=1\nCHORUS_SAISIE_KEEPS_NUMBER='false'\nCHORUS_SAISIE_KEEPS_NUMBER=\"true\"\n"
    assert read_env_value(text, "CHORUS_SAISIE_KEEPS_NUMBER") == "true"
    assert read_env_value(text, "MISSING") is None
