"""Money amounts: rounded to the cent as invoices are printed, and never a signed zero."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.invoice import money_text, to_cents


@pytest.mark.parametrize(
    ("amount", "cents"),
    [("1.005", "1.01"), ("-1.005", "-1.01"), ("2.344", "2.34"), ("12", "12.00")],
)
def test_amounts_round_half_up_to_the_cent(amount: str, cents: str) -> None:
    assert str(to_cents(Decimal(amount))) == cents


@pytest.mark.parametrize("amount", ["-0.001", "-0", "-0.004"])
def test_a_negative_amount_that_rounds_to_zero_is_an_unsigned_zero(amount: str) -> None:
    # The tax of a negative exempt base (-1.64 x 0 %) is such an amount: written "-0.00", the
    # EN 16931 schematron refuses the CII (BR-E-09) and answers show a minus sign for nothing.
    assert str(to_cents(Decimal(amount))) == "0.00"
    assert money_text(to_cents(Decimal("-1.64") * 0 / 100)) == "0.00"
