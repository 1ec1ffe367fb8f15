"""The gateway's errors, each rendered once as RFC 9457 `application/problem+json`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

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
            problem["errors"] = [_error_entry(v) for v in self.errors]
        problem.update(self.extra)
        return problem


def _error_entry(violation: Violation) -> dict[str, str]:
    entry = {"field": violation.field, "code": str(violation.code), "message": violation.message}
    if violation.location is not None:  # only for invoices read from an XML document
        entry["location"] = violation.location
    return entry


class MalformedRequest(GatewayError):
    """The body is not JSON, not UTF-8, or not the expected shape at all."""

    status = 400
    code = "MALFORMED_REQUEST"
    title = "Malformed request"


class IdempotencyKeyInvalid(GatewayError):
    """The Idempotency-Key header is empty, too long or not printable text."""

    status = 400
    code = "IDEMPOTENCY_KEY_INVALID"
    title = "Invalid Idempotency-Key"


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


class MethodNotAllowed(GatewayError):
    """The path exists but not with this method; `Allow` lists those it has."""

    status = 405
    code = "METHOD_NOT_ALLOWED"
    title = "Method not allowed"


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


class FormatInvalid(GatewayError):
    """A UBL, CII or Factur-X document fails its XSD or the EN 16931 schematron; `errors` lists
    each fatal assertion (rule id, severity, location, message), `warnings` the others."""

    status = 422
    code = "FORMAT_INVALID"
    title = "The document does not conform to its syntax or to EN 16931"

    def __init__(
        self,
        detail: str | None = None,
        *,
        findings: Sequence[dict[str, str]],
        warnings: Sequence[dict[str, str]] = (),
    ) -> None:
        super().__init__(detail)
        self.findings = list(findings)
        self.warnings = list(warnings)

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        """The problem document, with the findings as `errors` and `warnings`."""
        problem = super().to_problem(instance)
        problem["errors"] = self.findings
        problem["warnings"] = self.warnings
        return problem


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


def _is_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _body_error(request: Request, exc: RequestValidationError) -> GatewayError | None:
    """The 400/415 hidden in FastAPI's validation errors: a body that is not a JSON object."""
    for error in exc.errors():
        if error["type"] == "json_invalid":
            reason = error.get("ctx", {}).get("error", "")
            return MalformedRequest(f"The body is not valid JSON: {reason}".rstrip(": "))
        if tuple(error["loc"]) == ("body",):
            if not _is_json(request):
                return UnsupportedMediaType("Send the body as application/json.")
            return MalformedRequest("The body must be a JSON object.")
    return None


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path (Starlette names only the first route's)."""
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def _from_http_exception(request: Request, exc: StarletteHTTPException) -> GatewayError | None:
    """The gateway's error for a refusal raised by Starlette or FastAPI themselves."""
    detail = exc.detail if isinstance(exc.detail, str) else None
    if isinstance(exc.__cause__, GatewayError):  # e.g. the body limit, hit while FastAPI reads
        return exc.__cause__
    if exc.status_code == 400:
        if isinstance(exc.__cause__, UnicodeDecodeError):
            detail = "The body is not UTF-8 text."
        return MalformedRequest(detail)
    if exc.status_code == 404:
        return NotFound()
    if exc.status_code == 405:
        return MethodNotAllowed(
            f"{request.method} is not allowed here.",
            headers={"Allow": ", ".join(_allowed_methods(request))},
        )
    if exc.status_code == 413:
        return PayloadTooLarge(detail)
    if exc.status_code == 415:
        return UnsupportedMediaType(detail)
    return None


def install_error_handlers(app: FastAPI) -> None:
    """Make every error, ours or the framework's, a problem document."""

    async def on_gateway_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GatewayError)  # noqa: S101 - registered for this type only
        return problem_response(exc, request)

    async def on_request_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)  # noqa: S101
        body_error = _body_error(request, exc)
        if body_error is not None:
            return problem_response(body_error, request)
        violations = [
            Violation(
                _location(err["loc"]),
                Code.FIELD_REQUIRED if err["type"] == "missing" else Code.FIELD_INVALID,
                # Our own validators' messages, without pydantic's "Value error, " prefix.
                str(err["ctx"]["error"]) if err["type"] == "value_error" else err["msg"],
            )
            for err in exc.errors()
        ]
        return problem_response(RequestInvalid(errors=violations), request)

    async def on_http_exception(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)  # noqa: S101
        known = _from_http_exception(request, exc)
        if known is not None:
            return problem_response(known, request)
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
