"""The console's Jinja2 environment: autoescaped templates and the French filters they use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.console import labels

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TEMPLATES.env.filters.update(
    status=labels.status_label,
    chorus=labels.chorus_label,
    kind=labels.kind_label,
    event=labels.event_label,
    when=labels.when,
    age=labels.age,
)
TEMPLATES.env.globals.update(statuses=labels.STATUS_LABELS, outcome=labels.outcome_class)


# Every asset is ours: no other origin may script, frame or receive a form from the console.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'; object-src 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """The page `name`, never cached (it shows live data and this session's CSRF token)."""
    response = TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(PAGE_HEADERS)
    return response
