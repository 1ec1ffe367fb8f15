"""Every test here delivers: the gateway and its worker aim at the served emulator.

The fixtures they use (worker, gateway, acme, post...) are tests/support/delivery.py's.
"""

from __future__ import annotations

import pytest

from app.settings import Settings
from tests.support.delivery import delivery_settings


@pytest.fixture
def settings(settings: Settings, served_emulator: str) -> Settings:
    return delivery_settings(settings, served_emulator)
