"""The request's unit of work: one session, committed when the handler succeeds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


def _sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.resources.sessionmaker
    return sessionmaker


# Dependencies are `async def` on purpose: FastAPI runs plain `def` ones in its thread pool,
# which costs more than the attribute lookup they do.
async def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """The session factory built by the app's lifespan."""
    return _sessionmaker(request)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request; only this dependency commits or rolls back."""
    async with _sessionmaker(request)() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# scope="function": commit before the response is sent, so a 201 always means "stored".
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SessionmakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]
