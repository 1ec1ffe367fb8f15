"""Emulators served otherwise than the session's `served_emulator`, for the modules that need one.

A module imports the fixture it wants: pytest registers it under its name, `served_emulator`,
for that module only, so the module's gateway, worker and Chorus client all aim at it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.emulator.main import create_emulator_app
from app.emulator.settings import EmulatorSettings
from tests.support.servers import serve_app


@pytest.fixture(scope="module", name="served_emulator")
def sender_numbering_emulator() -> Iterator[str]:
    """An emulator that keeps the sender's SAISIE_API numbers, as Chorus keeps DEPOT_PDF_API's:
    a second sending is then a duplicate, and an uncertain one can be found by its number."""
    config = EmulatorSettings(lifecycle_mode="manual", saisie_numbering="sender")
    with serve_app(create_emulator_app(config)) as url:
        yield url
