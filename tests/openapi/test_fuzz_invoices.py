"""The committed spec fuzzed against the app (fuzzing.py): the operations on `/v1/invoices` and
below answer no 5xx and nothing undocumented."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from app.settings import Settings
from tests.openapi.fuzzing import fuzz_group


def test_fuzzing_the_invoices_operations_finds_no_server_error_and_no_undocumented_answer(
    settings: Settings, served_emulator: str, engine: AsyncEngine, emulator: httpx.AsyncClient
) -> None:
    fuzz_group("invoices", settings, served_emulator)
