"""Column types both databases store the same way."""

from __future__ import annotations

import os
import time
from decimal import Decimal

from sqlalchemy import BigInteger, Integer, String, TypeDecorator
from sqlalchemy.engine import Dialect


# SQLite's NUMERIC is a float: amounts are kept as text so no cent is ever lost.
class DecimalText(TypeDecorator[Decimal]):
    """An exact decimal stored as its canonical text."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigIntegerKey = BigInteger().with_variant(Integer(), "sqlite")

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str) -> str:
    """A time-ordered id (ULID layout: 48-bit milliseconds, 80 random bits) with a type prefix.

    Ordering by id is ordering by creation time, which keyset pagination relies on.
    """
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return prefix + "".join(reversed(chars))
