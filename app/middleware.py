"""ASGI middleware: the request id, the access log and metrics, NUL refusal, the body limit."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping
from urllib.parse import parse_qsl

from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.domain.violations import Code, Violation
from app.errors import GatewayError, PayloadTooLarge, RequestInvalid
from app.logging import get_logger
from app.metrics_registry import HTTP_LATENCY, HTTP_REQUESTS
from app.request_context import request_id_var

_access_log = get_logger("gateway.access")
REQUEST_ID_HEADER = "x-request-id"
# Accept a caller's id only if it is short and plain, so it is safe in logs and headers.
_ACCEPTABLE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class HttpMiddleware:
    """Pure ASGI middleware that acts on HTTP requests and passes anything else through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request."""
        raise NotImplementedError


class RequestIdMiddleware(HttpMiddleware):
    """Bind the request id (the caller's `X-Request-ID`, or a new one) and echo it back."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = given if _ACCEPTABLE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class AccessLogMiddleware(HttpMiddleware):
    """One log line and the HTTP metrics per request, labelled by route template."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500

        async def send_and_remember(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_remember)
        finally:
            elapsed = time.perf_counter() - started
            template = _route_template(scope)
            method = scope["method"]
            HTTP_REQUESTS.labels(method, template, str(status)).inc()
            HTTP_LATENCY.labels(method, template).observe(elapsed)
            _access_log.info(
                "request",
                method=method,
                path=scope["path"],
                route=template,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                client_id=scope.get("state", {}).get("client_id"),
            )


class NulRefusalMiddleware(HttpMiddleware):
    """Refuse a NUL character anywhere in the path or query with 422.

    No identifier or filter of the API can hold one, PostgreSQL refuses them in text (a 500 from
    deep in a query otherwise), and they truncate strings in logs and C libraries.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        field = _nul_field(scope)
        if field is not None:
            error = RequestInvalid(
                errors=[Violation(field, Code.FIELD_INVALID, "NUL characters are not allowed.")]
            )
            # The echoed path would carry the NUL itself.
            await _send_problem(send, error, instance=None)
            return
        await self.app(scope, receive, send)


def _nul_field(scope: Scope) -> str | None:
    """Where a NUL is: "path", the query parameter's name, or "query"; None if nowhere."""
    if "\x00" in scope["path"]:
        return "path"
    query: str = scope.get("query_string", b"").decode("latin-1")
    if "%00" not in query and "\x00" not in query:
        return None
    for name, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
        if "\x00" in name:
            return "query"
        if "\x00" in value:
            return name
    return None


async def _send_problem(send: Send, error: GatewayError, instance: str | None) -> None:
    body = json.dumps(error.to_problem(instance=instance)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _route_template(scope: Scope) -> str:
    """The matched route's path template, the metrics label; "unmatched" for unknown paths."""
    template = getattr(scope.get("route"), "path", None)
    if template:
        return str(template)
    # FastAPI names only its API routes in the scope; the documentation pages are plain routes.
    app = scope.get("app")
    for route in getattr(getattr(app, "router", None), "routes", ()):
        if isinstance(route, Route) and route.matches(scope)[0] is not Match.NONE:
            return route.path
    return "unmatched"


# Bodies that carry a file (a PDF, an ERP's UBL, CII or Factur-X), whole or among parts.
_UPLOAD_TYPES = (b"multipart/", b"application/pdf", b"application/xml", b"text/xml")


def _is_upload(content_type: bytes) -> bool:
    return content_type.lower().lstrip().startswith(_UPLOAD_TYPES)


class BodySizeLimitMiddleware(HttpMiddleware):
    """Refuse bodies over the limit with 413, whether announced or streamed.

    Bodies carrying a file (multipart, PDF, XML) get `max_upload_bytes`; a path in
    `path_limits` its own limit (the batch route); everything else `max_bytes`.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        max_upload_bytes: int,
        path_limits: Mapping[str, tuple[int, str]] | None = None,
    ) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes
        # path -> (limit, the setting that names it, for the problem's detail)
        self.path_limits = dict(path_limits or {})

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        is_upload = _is_upload(headers.get(b"content-type", b""))
        limit = self.max_upload_bytes if is_upload else self.max_bytes
        setting = "API_MAX_BODY_BYTES, API_MAX_PDF_BYTES"
        if not is_upload and scope["path"] in self.path_limits:
            limit, setting = self.path_limits[scope["path"]]
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, send, limit, setting)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(self._detail(limit, setting))
            return message

        await self.app(scope, counting_receive, send)

    def _detail(self, limit: int, setting: str) -> str:
        return f"The body is over the {limit}-byte limit ({setting})."

    async def _refuse(self, scope: Scope, send: Send, limit: int, setting: str) -> None:
        problem = PayloadTooLarge(self._detail(limit, setting)).to_problem(
            instance=scope.get("path")
        )
        body = json.dumps(problem).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
