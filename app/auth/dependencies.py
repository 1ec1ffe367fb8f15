"""Who is calling: the bearer key, turned into a `Caller` with scopes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError

from app.auth.scopes import Scope
from app.auth.service import Caller, authenticate
from app.db.base import utc_now
from app.db.session import SessionmakerDep
from app.dependencies import ResourcesDep
from app.errors import Forbidden, NotFound, NotReady, Unauthenticated

_bearer = HTTPBearer(
    auto_error=False, description="An API key created with `gateway clients create`."
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_optional_caller(
    request: Request,
    sessionmaker: SessionmakerDep,
    resources: ResourcesDep,
    credentials: BearerDep,
) -> Caller | None:
    """The authenticated caller, None without credentials, or 401 for a key that is not valid."""
    if credentials is None:
        return None
    if credentials.scheme.lower() != "bearer":
        raise Unauthenticated(
            "Send an API key as 'Authorization: Bearer <key>'.", headers=_CHALLENGE
        )
    caller = resources.callers.get(credentials.credentials)
    if caller is None:
        generation = resources.callers.generation
        # Its own short transaction: on SQLite the request's unit of work must not hold the
        # write lock before the use case needs it (an Idempotency-Key claim takes it in between).
        try:
            async with sessionmaker() as session:
                caller = await authenticate(session, credentials.credentials)
        except (SQLAlchemyError, OSError) as exc:
            raise NotReady("The database cannot be reached to check the API key.") from exc
        if caller is not None:
            resources.callers.put(credentials.credentials, caller, generation)
    if caller is None or caller.is_expired(utc_now()):
        raise Unauthenticated("Unknown, revoked or expired API key.", headers=_CHALLENGE)
    request.state.client_id = caller.client_id  # for the access log line
    return caller


async def get_caller(
    caller: Annotated[Caller | None, Depends(get_optional_caller)],
) -> Caller:
    """The authenticated caller, or 401."""
    if caller is None:
        raise Unauthenticated(
            "Send an API key as 'Authorization: Bearer <key>'.", headers=_CHALLENGE
        )
    return caller


def require(scope: Scope) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency that lets through only callers holding `scope` (operators hold all)."""

    async def check(caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
        if scope not in caller.scopes and Scope.OPERATOR not in caller.scopes:
            raise Forbidden(f"This operation needs the '{scope}' scope.")
        return caller

    return check


async def operator_or_not_found(
    client_id: str, caller: Annotated[Caller, Depends(get_caller)]
) -> Caller:
    """Operators only; to anyone else no API client exists (404), as for another's invoice."""
    if not caller.is_operator:
        raise NotFound(f"No API client {client_id}.")
    return caller


WriterDep = Annotated[Caller, Depends(require(Scope.INVOICES_WRITE))]
ReaderDep = Annotated[Caller, Depends(require(Scope.INVOICES_READ))]
OperatorDep = Annotated[Caller, Depends(require(Scope.OPERATOR))]
ClientOperatorDep = Annotated[Caller, Depends(operator_or_not_found)]
OptionalCallerDep = Annotated[Caller | None, Depends(get_optional_caller)]
