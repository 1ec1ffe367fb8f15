"""OpenAPI descriptions of the problem documents each endpoint may answer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.errors import PROBLEM_JSON


class FieldError(BaseModel):
    """One problem with one field."""

    field: str = Field(examples=["buyer.service_code"])
    code: str = Field(examples=["SE_REQUIRED"])
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None
    existing_invoice_id: str | None = Field(
        default=None, description="For DUPLICATE_INVOICE: the invoice that already exists."
    )


_DESCRIPTIONS = {
    400: "Malformed body (not JSON, not UTF-8, not an object), or an invalid Idempotency-Key.",
    401: "Missing or invalid API key.",
    403: "The API key lacks the scope.",
    404: "No such resource visible to this client.",
    409: "Conflict with the current state (duplicate invoice, key in flight, not failed...).",
    413: "Body over the size limit.",
    415: "Unsupported content type.",
    422: "Invalid request; `errors` lists every problem.",
    503: "Not ready, or Chorus Pro unavailable.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries documenting these problem statuses."""
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS[status],
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def document_shared_problems(spec: dict[str, Any]) -> None:
    """Add the answers every operation can give, whatever its route declares.

    The error handlers and middleware refuse a malformed, oversized or non-JSON body (400, 413,
    415) and a NUL or out-of-range parameter (422) for every route alike.
    """
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            statuses = []
            if "requestBody" in operation:
                statuses += [400, 413, 415]
            if operation.get("parameters"):
                statuses.append(422)
            responses = operation.setdefault("responses", {})
            for status, response in problem_responses(*statuses).items():
                if str(status) not in responses:
                    response.pop("model")
                    responses[str(status)] = response
