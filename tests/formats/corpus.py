"""The golden corpus, for the tests: it lives in `harness.corpus`, shared with `bench.formats`."""

from __future__ import annotations

from app.domain.identifiers import STATE_SIRET
from harness.corpus import (
    BUYER_ADDRESS,
    DELIVERY_NOTE,
    IBAN,
    SCENARIOS,
    SELLER_ADDRESS,
    SUPPLIER_SIRET,
    TIMESHEET,
    Scenario,
    scenario,
)

__all__ = [
    "BUYER_ADDRESS",
    "DELIVERY_NOTE",
    "IBAN",
    "SCENARIOS",
    "SELLER_ADDRESS",
    "STATE_SIRET",
    "SUPPLIER_SIRET",
    "TIMESHEET",
    "Scenario",
    "scenario",
]
