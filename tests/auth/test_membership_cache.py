"""The auth cache never outlives a membership change made in this process."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.cache import CallerCache
from app.auth.scopes import Scope
from app.auth.service import Caller

BEFORE = Caller("cli_1", "firm", frozenset({Scope.INVOICES_WRITE}), frozenset({"41234567010000"}))


def test_a_lookup_that_started_before_a_forget_is_not_remembered() -> None:
    cache = CallerCache(5)
    generation = cache.generation
    cache.forget("cli_1")  # a detach lands while the lookup reads the old rights
    cache.put("cpg_key", BEFORE, generation)
    assert cache.get("cpg_key") is None
    cache.put("cpg_key", BEFORE, cache.generation)
    assert cache.get("cpg_key") == BEFORE


async def test_a_client_is_forgotten_again_when_the_change_commits(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    cache = CallerCache(5)
    cache.put("cpg_key", BEFORE)
    async with sessionmaker() as session, session.begin():
        cache.forget_after_commit(session, ["cli_1"])
        assert cache.get("cpg_key") is None
        # Another request read the old rights before the commit and remembered them.
        cache.put("cpg_key", BEFORE)
    assert cache.get("cpg_key") is None


async def test_a_rolled_back_change_forgets_only_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    cache = CallerCache(5)
    async with sessionmaker() as session:
        cache.forget_after_commit(session, ["cli_1"])
        cache.put("cpg_key", BEFORE)
        await session.rollback()
    assert cache.get("cpg_key") == BEFORE
