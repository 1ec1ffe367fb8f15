"""The wire schemas agree with the domain values they spell."""

from __future__ import annotations

from typing import get_args

from app.domain.lifecycle import InvoiceStatus
from app.invoices.schemas import InvoiceStatusName


def test_the_wire_status_names_are_the_lifecycle_statuses() -> None:
    assert list(get_args(InvoiceStatusName)) == [status.value for status in InvoiceStatus]
