"""A lost race on a unique key is the caller's 409; any other integrity error stays an error."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.conflicts import flush_or_conflict
from app.errors import Conflict
from app.structures.models import SupplierStructure
from tests.builders import SUPPLIER_SIRET


def _structure(**overrides: object) -> SupplierStructure:
    fields: dict[str, object] = {
        "siret": SUPPLIER_SIRET,
        "login": "TECH",
        "password_ciphertext": "sealed",
        **overrides,
    }
    return SupplierStructure(**fields)


async def test_a_duplicate_key_raises_the_given_conflict(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        session.add(_structure())
    async with sessionmaker() as session, session.begin():
        session.add(_structure())
        with pytest.raises(Conflict, match="already there"):
            await flush_or_conflict(session, Conflict("already there"))


async def test_a_missing_required_value_is_not_a_conflict(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        session.add(_structure(login=None))
        with pytest.raises(IntegrityError):
            await flush_or_conflict(session, Conflict("never"))
