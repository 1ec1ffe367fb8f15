"""The console's entry: sign-in and sign-out, the dashboard, and how it plugs into the app."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app.auth.models import ApiClient
from app.auth.service import authenticate
from app.console import admin, invoices, members
from app.console.access import (
    ConsoleError,
    FormViewerDep,
    SignInRequired,
    ViewerDep,
    codec,
    may_use_console,
    sign_in_location,
)
from app.console.dashboard import Dashboard, build_dashboard
from app.console.session import LOGIN_COOKIE, LOGIN_SECONDS, SESSION_COOKIE, SessionCodec
from app.console.templating import render
from app.db.base import utc_now
from app.db.session import SessionDep, SessionmakerDep
from app.dependencies import ResourcesDep
from app.settings import Settings

router = APIRouter(prefix="/console", include_in_schema=False)
STATIC = Path(__file__).parent / "static"


def _safe_next(next_path: str | None) -> str:
    # Only back into the console: never an open redirect.
    if next_path and next_path.startswith("/console") and "//" not in next_path:
        return next_path
    return "/console"


def _login_page(request: Request, next_path: str, error: str | None, status: int) -> Response:
    signer = codec(request)
    cookie, token = signer.new_login_token()
    response = render(
        request,
        "login.html",
        {"next": _safe_next(next_path), "login_token": token, "error": error},
        status_code=status,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        cookie,
        max_age=LOGIN_SECONDS,
        httponly=True,
        samesite="strict",
        secure=signer.secure,
        path="/console",
    )
    return response


@router.get("/connexion", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/console") -> Response:
    """The sign-in form."""
    return _login_page(request, next, None, 200)


@router.post("/connexion", response_class=HTMLResponse)
async def login(
    request: Request,
    sessionmaker: SessionmakerDep,
    api_key: Annotated[str, Form(max_length=200)] = "",
    login_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/console",
) -> Response:
    """Check the key once; the session then names its client, never the key."""
    signer = codec(request)
    expected = signer.login_token(request.cookies.get(LOGIN_COOKIE))
    if expected is None or expected != login_token:
        return _login_page(request, next, "Formulaire expiré : recommencez.", 403)
    async with sessionmaker() as session:
        caller = await authenticate(session, api_key.strip()) if api_key.strip() else None
        client = await session.get(ApiClient, caller.client_id) if caller else None
    if client is None:
        return _login_page(request, next, "Clé inconnue, révoquée ou expirée.", 401)
    if not may_use_console(client):
        return _login_page(request, next, "Cette clé ne peut pas lire les factures.", 403)
    cookie, _ = signer.new_session(client.id, client.key_hash)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=signer.max_age_seconds,
        httponly=True,
        samesite="strict",
        secure=signer.secure,
        path="/console",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/console")
    return response


@router.post("/deconnexion")
async def logout(viewer: FormViewerDep) -> Response:
    """End the session (the cookie is dropped; the key stays valid for the API)."""
    response = RedirectResponse("/console/connexion", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


def _suppliers(viewer: ViewerDep) -> frozenset[str] | None:
    return None if viewer.is_operator else viewer.caller.supplier_sirets


async def _dashboard(viewer: ViewerDep, session: SessionDep, resources: ResourcesDep) -> Dashboard:
    return await build_dashboard(
        session,
        suppliers=_suppliers(viewer),
        now=utc_now(),
        outbox=resources.settings.outbox,
        chorus_last_success_at=resources.chorus.last_success_at,
    )


DashboardDep = Annotated[Dashboard, Depends(_dashboard)]


@router.get("", response_class=HTMLResponse)
async def dashboard(request: Request, viewer: ViewerDep, board: DashboardDep) -> Response:
    """The dashboard page (its body refreshes itself through the fragment below)."""
    return render(request, "dashboard.html", {"viewer": viewer, "board": board, "nav": "home"})


@router.get("/fragments/tableau-de-bord", response_class=HTMLResponse)
async def dashboard_fragment(request: Request, viewer: ViewerDep, board: DashboardDep) -> Response:
    """The dashboard's body alone, for htmx's periodic refresh."""
    return render(request, "_dashboard.html", {"viewer": viewer, "board": board})


router.include_router(invoices.router)
router.include_router(admin.router)
router.include_router(members.router)


def install_console(app: FastAPI, settings: Settings) -> None:
    """Serve the console at /console: its pages, its assets, and its error pages."""
    app.state.console_codec = SessionCodec(settings.console)
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")

    async def on_sign_in_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)  # noqa: S101 - registered for this type only
        location = sign_in_location(exc.next_path)
        if request.headers.get("HX-Request"):
            # htmx follows this with a full page load instead of swapping the sign-in page in.
            return Response(status_code=200, headers={"HX-Redirect": location})
        return RedirectResponse(location, status_code=303)

    async def on_console_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ConsoleError)  # noqa: S101 - registered for this type only
        return render(
            request, "error.html", {"status": exc.status, "message": exc.message}, exc.status
        )

    app.add_exception_handler(SignInRequired, on_sign_in_required)
    app.add_exception_handler(ConsoleError, on_console_error)
