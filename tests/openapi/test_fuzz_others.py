"""The committed spec fuzzed against the app (fuzzing.py): the other operations (health, metrics,
clients, buyers, events, webhooks) answer no 5xx and nothing undocumented."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from app.settings import Settings
from tests.openapi.fuzzing import GROUPS, fuzz_group, group_of, operation_labels


def test_fuzzing_the_others_operations_finds_no_server_error_and_no_undocumented_answer(
    settings: Settings, served_emulator: str, engine: AsyncEngine, emulator: httpx.AsyncClient
) -> None:
    fuzz_group("others", settings, served_emulator)


def test_every_fuzzing_group_has_its_module_and_operations() -> None:
    # An operation is never left out (`others` takes the rest), but a group is only fuzzed by
    # its module.
    here = Path(__file__).parent
    assert {group_of(label) for label in operation_labels()} == set(GROUPS)
    assert all((here / f"test_fuzz_{group}.py").is_file() for group in GROUPS)
