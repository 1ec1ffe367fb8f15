"""How the emulator answers: Chorus envelopes for refusals and bad requests, empty PISTE denials."""

from __future__ import annotations

from typing import cast

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.emulator.settings import EmulatorSettings
from app.emulator.stats import Stats

CONTROL_PREFIX = "/_emulator"


class ChorusJSONResponse(JSONResponse):
    """JSON with the exact media type Chorus declares (`application/json;charset=utf-8`)."""

    media_type = "application/json;charset=utf-8"


class ChorusRefusal(Exception):
    """A business refusal: `codeRetour` != 0 with a `libelle`, on the configured HTTP status."""

    def __init__(self, code: int, libelle: str) -> None:
        super().__init__(f"{code} {libelle}")
        self.code = code
        self.libelle = libelle


class NothingFound(Exception):
    """A search with no result, answered as Chorus has been seen to: `codeRetour` on HTTP 200."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


NOTHING_FOUND_LIBELLE = "La recherche n'a retourné aucun résultat."


class MalformedRequest(Exception):
    """A body Chorus cannot read: HTTP 400 with an envelope."""

    def __init__(self, libelle: str) -> None:
        super().__init__(libelle)
        self.libelle = libelle


class AccessDenied(Exception):
    """PISTE refusing the call (401 bad token, 403 bad account): an empty body."""

    def __init__(self, status_code: int) -> None:
        super().__init__(status_code)
        self.status_code = status_code


def envelope(code: int, libelle: str, status_code: int) -> ChorusJSONResponse:
    """A bare `{codeRetour, libelle}` answer."""
    return ChorusJSONResponse({"codeRetour": code, "libelle": libelle}, status_code=status_code)


def _describe(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        parts.append(f"{where or 'corps'} : {item.get('msg', 'invalide')}")
    return "Requête invalide - " + " ; ".join(parts)


def install_error_handlers(app: FastAPI, settings: EmulatorSettings, stats: Stats) -> None:
    """Render refusals, malformed bodies and PISTE denials the way Chorus and PISTE do."""

    async def on_refusal(request: Request, exc: Exception) -> Response:
        refusal = cast(ChorusRefusal, exc)
        stats.refusals[refusal.code] += 1
        return envelope(refusal.code, refusal.libelle, settings.refusal_http_status)

    async def on_nothing_found(request: Request, exc: Exception) -> Response:
        return envelope(cast(NothingFound, exc).code, NOTHING_FOUND_LIBELLE, 200)

    async def on_malformed(request: Request, exc: Exception) -> Response:
        return envelope(settings.code_malformed_request, cast(MalformedRequest, exc).libelle, 400)

    async def on_invalid(request: Request, exc: Exception) -> Response:
        error = cast(RequestValidationError, exc)
        if request.url.path.startswith(CONTROL_PREFIX):
            return await request_validation_exception_handler(request, error)
        return envelope(settings.code_malformed_request, _describe(error), 400)

    async def on_denied(request: Request, exc: Exception) -> Response:
        return Response(status_code=cast(AccessDenied, exc).status_code)

    app.add_exception_handler(ChorusRefusal, on_refusal)
    app.add_exception_handler(NothingFound, on_nothing_found)
    app.add_exception_handler(MalformedRequest, on_malformed)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(AccessDenied, on_denied)
