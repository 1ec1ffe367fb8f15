"""Who is using the console: the session cookie, checked against the API client on each request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from sqlalchemy.exc import SQLAlchemyError

from app.auth.models import ApiClient
from app.auth.scopes import Scope
from app.auth.service import Caller, caller_of, client_status
from app.console.session import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    SessionCodec,
    SessionData,
    key_fingerprint,
    tokens_match,
)
from app.db.session import SessionmakerDep


class ConsoleError(Exception):
    """An answer the console renders as a page (not problem+json): 403, 404, 409, ..."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SignInRequired(Exception):
    """No valid session: the sign-in page, then back to `next`."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in API client and its session."""

    caller: Caller
    session: SessionData

    @property
    def is_operator(self) -> bool:
        """Operators see everything and may act; client keys only read their suppliers."""
        return self.caller.is_operator

    @property
    def csrf(self) -> str:
        """The token every state-changing form of this session carries."""
        return self.session.csrf


def codec(request: Request) -> SessionCodec:
    """The app's cookie signer (built with the app, secret per process when unset)."""
    signer: SessionCodec = request.app.state.console_codec
    return signer


def may_use_console(client: ApiClient) -> bool:
    """Operators, and clients that may read invoices."""
    return bool({Scope.OPERATOR, Scope.INVOICES_READ} & set(client.scopes))


async def get_viewer(request: Request, sessionmaker: SessionmakerDep) -> Viewer:
    """The signed-in client, or the sign-in page (revoked, expired or rotated keys end sessions)."""
    data = codec(request).read_session(request.cookies.get(SESSION_COOKIE))
    next_path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if data is None:
        raise SignInRequired(next_path)
    try:
        async with sessionmaker() as session:
            client = await session.get(ApiClient, data.client_id)
            if (
                client is None
                or client_status(client) != "active"
                or key_fingerprint(client.key_hash) != data.key_fingerprint
                or not may_use_console(client)
            ):
                raise SignInRequired(next_path)
            # Its approved memberships count, as they do for its API key.
            caller = await caller_of(session, client)
    except (SQLAlchemyError, OSError) as exc:
        raise ConsoleError(503, "La base de données ne répond pas.") from exc
    request.state.client_id = client.id  # for the access log line
    return Viewer(caller, data)


async def get_form_viewer(
    request: Request, viewer: Annotated[Viewer, Depends(get_viewer)]
) -> Viewer:
    """A signed-in client whose form (or htmx header) carries this session's CSRF token."""
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form()
        field = form.get(CSRF_FIELD)
        given = field if isinstance(field, str) else None
    if not tokens_match(viewer.csrf, given):
        raise ConsoleError(403, "Jeton CSRF absent ou invalide : rechargez la page.")
    return viewer


async def get_writer(viewer: Annotated[Viewer, Depends(get_form_viewer)]) -> Viewer:
    """An operator's state-changing form with its CSRF token; 403 otherwise."""
    if not viewer.is_operator:
        raise ConsoleError(403, "Cette action est réservée aux clés opérateur.")
    return viewer


async def get_operator(viewer: Annotated[Viewer, Depends(get_viewer)]) -> Viewer:
    """A signed-in operator (pages of operator-only sections); 403 otherwise."""
    if not viewer.is_operator:
        raise ConsoleError(403, "Cette page est réservée aux clés opérateur.")
    return viewer


def sign_in_location(next_path: str) -> str:
    """The sign-in page, remembering where to go back (a path of the console only)."""
    return "/console/connexion?next=" + quote(next_path, safe="/")


ViewerDep = Annotated[Viewer, Depends(get_viewer)]
FormViewerDep = Annotated[Viewer, Depends(get_form_viewer)]
WriterDep = Annotated[Viewer, Depends(get_writer)]
OperatorDep = Annotated[Viewer, Depends(get_operator)]
