"""`/metrics`: this process's counters plus gauges read from the database, optionally guarded.

With METRICS_TOKEN set, a scrape must send `Authorization: Bearer <token>`, on the API's
`/metrics` and on the worker's metrics port alike; unset, both stay open as before.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer
from pydantic import SecretStr

from app.db.session import SessionDep
from app.dependencies import SettingsDep
from app.errors import Unauthenticated
from app.health.service import update_gauges
from app.problems import problem_responses

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

router = APIRouter(tags=["health"])
_bearer = HTTPBearer(auto_error=False, description="METRICS_TOKEN, when one is set.")


def token_matches(token: SecretStr, authorization: str | None) -> bool:
    """Whether an Authorization header carries `token` (compared in constant time)."""
    expected = f"Bearer {token.get_secret_value()}".encode()
    return hmac.compare_digest((authorization or "").encode(), expected)


async def check_metrics_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 unless METRICS_TOKEN is unset or sent as the bearer token."""
    token = settings.metrics.token
    if token is None:
        return
    given = f"Bearer {credentials.credentials}" if credentials else None
    if not token_matches(token, given):
        raise Unauthenticated(
            "Send METRICS_TOKEN as 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses=problem_responses(401),
    dependencies=[Depends(check_metrics_token)],
)
async def metrics(session: SessionDep) -> Response:
    """The process's counters plus the database's outbox and invoice gauges (capped counts)."""
    await update_gauges(session)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not worth a log line each."""


def serve_process_metrics(host: str, port: int, token: SecretStr | None) -> WSGIServer:
    """Serve this process's metrics on `host:port` in a daemon thread, behind `token` if set."""
    exposition = make_wsgi_app()

    def guarded(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if token is not None and not token_matches(token, environ.get("HTTP_AUTHORIZATION")):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")],
            )
            return [b"Send METRICS_TOKEN as 'Authorization: Bearer <token>'.\n"]
        answer: Iterable[bytes] = exposition(environ, start_response)
        return answer

    app: WSGIApplication = guarded
    server = make_server(host, port, app, ThreadingWSGIServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
