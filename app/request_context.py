"""The request id of the work in progress, visible to logs and outgoing Chorus calls."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str:
    """The id bound to this request or task, or a fresh one when nothing bound it."""
    return request_id_var.get() or uuid.uuid4().hex
