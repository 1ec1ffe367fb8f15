"""Every test here delivers for the demo supplier: the gateway and its worker aim at the served
emulator, and the supplier's technical account is registered.

The fixtures they use (worker, gateway, acme, post...) are tests/support/delivery.py's.
"""

from __future__ import annotations

import pytest

from app.settings import Settings
from tests.support.delivery import delivery_settings


@pytest.fixture
def settings(settings: Settings, served_emulator: str) -> Settings:
    return delivery_settings(settings, served_emulator)


@pytest.fixture(autouse=True)
def _registered_acme(acme: None) -> None:
    """The demo supplier's technical account, for every test (`acme`)."""
