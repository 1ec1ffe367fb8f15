"""The gateway's errors, each rendered once as RFC 9457 `application/problem+json`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.domain.violations import Code, Violation

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://chorus-pro-gateway.dev/problems/"


class GatewayError(Exception):
    """A failure the client should hear about, with a stable code."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[Violation] = (),
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = list(errors)
        self.headers = headers
        self.extra = extra

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        """The problem document (RFC 9457) for this error."""
        problem: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.code.lower().replace("_", "-"),
            "title": self.title,
            "status": self.status,
            "code": self.code,
        }
        if self.detail:
            problem["detail"] = self.detail
        if instance:
            problem["instance"] = instance
        if self.errors:
            problem["errors"] = [
                {"field": v.field, "code": str(v.code), "message": v.message} for v in self.errors
            ]
        problem.update(self.extra)
        return problem


class MalformedRequest(GatewayError):
    """The body is not JSON, not UTF-8, or not the expected shape at all."""

    status = 400
    code = "MALFORMED_REQUEST"
    title = "Malformed request"


class Unauthenticated(GatewayError):
    """No API key, or one the gateway does not know."""

    status = 401
    code = "UNAUTHENTICATED"
    title = "Missing or invalid API key"


class Forbidden(GatewayError):
    """The key is valid but lacks the scope for this operation."""

    status = 403
    code = "FORBIDDEN"
    title = "Missing scope"


class NotFound(GatewayError):
    """Nothing here, or nothing this client may see (the two are indistinguishable on purpose)."""

    status = 404
    code = "NOT_FOUND"
    title = "Not found"


class Conflict(GatewayError):
    """The request collides with existing state."""

    status = 409
    code = "CONFLICT"
    title = "Conflict"


class DuplicateInvoice(Conflict):
    """An invoice with this supplier, number and type already exists."""

    code = "DUPLICATE_INVOICE"
    title = "Invoice already exists"


class InvoiceNotFailed(Conflict):
    """Only a failed invoice can be re-queued."""

    code = "INVOICE_NOT_FAILED"
    title = "Invoice is not failed"


class IdempotencyKeyInFlight(Conflict):
    """The first request with this key is still being processed."""

    code = "IDEMPOTENCY_KEY_IN_FLIGHT"
    title = "A request with this Idempotency-Key is in progress"


class PayloadTooLarge(GatewayError):
    """The body exceeds the configured limit."""

    status = 413
    code = "PAYLOAD_TOO_LARGE"
    title = "Request body too large"


class UnsupportedMediaType(GatewayError):
    """The body is neither JSON nor multipart."""

    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    title = "Unsupported media type"


class InvoiceInvalid(GatewayError):
    """The invoice breaks rules Chorus Pro would refuse it for; `errors` lists them all."""

    status = 422
    code = "INVOICE_INVALID"
    title = "The invoice is not valid"


class IdempotencyKeyReused(GatewayError):
    """The key was already used with a different body."""

    status = 422
    code = "IDEMPOTENCY_KEY_REUSED"
    title = "Idempotency-Key reused with a different request"


class RequestInvalid(GatewayError):
    """Query or path parameters are malformed."""

    status = 422
    code = "REQUEST_INVALID"
    title = "Invalid request parameters"


class ChorusUnavailable(GatewayError):
    """Chorus Pro (or the emulator) could not be asked."""

    status = 503
    code = "CHORUS_UNAVAILABLE"
    title = "Chorus Pro is unavailable"


class NotReady(GatewayError):
    """The service cannot serve requests yet (database down, schema behind)."""

    status = 503
    code = "NOT_READY"
    title = "Service not ready"


def problem_response(error: GatewayError, request: Request) -> JSONResponse:
    """Render `error` for `request`."""
    return JSONResponse(
        error.to_problem(instance=request.url.path),
        status_code=error.status,
        media_type=PROBLEM_JSON,
        headers=error.headers,
    )


def _location(loc: Sequence[int | str]) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    """Make every error, ours or the framework's, a problem document."""

    async def on_gateway_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GatewayError)  # noqa: S101 - registered for this type only
        return problem_response(exc, request)

    async def on_request_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)  # noqa: S101
        violations = [
            Violation(
                _location(err["loc"]),
                Code.FIELD_REQUIRED if err["type"] == "missing" else Code.FIELD_INVALID,
                err["msg"],
            )
            for err in exc.errors()
        ]
        return problem_response(RequestInvalid(errors=violations), request)

    async def on_http_exception(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)  # noqa: S101
        error = GatewayError(exc.detail if isinstance(exc.detail, str) else None)
        problem = error.to_problem(instance=request.url.path)
        problem.update(
            status=exc.status_code,
            code=f"HTTP_{exc.status_code}",
            title=str(exc.detail),
            type="about:blank",
        )
        return JSONResponse(
            problem, status_code=exc.status_code, media_type=PROBLEM_JSON, headers=exc.headers
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(GatewayError(), request)

    app.add_exception_handler(GatewayError, on_gateway_error)
    app.add_exception_handler(RequestValidationError, on_request_validation)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(Exception, on_unexpected)
