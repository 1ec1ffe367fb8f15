"""Structured JSON logs (structlog): one line per request and per delivery attempt.

Every line carries the request id (the caller's `X-Request-ID` or a new one; the worker binds
one per outbox item, forwarded to Chorus). Secrets never reach a line: values under secret-like
keys are masked, and API keys, webhook secrets and bearer tokens are masked wherever they appear.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from app.request_context import request_id_var
from app.settings import LogSettings

SECRET_KEYS = re.compile(
    r"pass(word)?|secret|token|authorization|api[_-]?key|cpro[_-]?account|cookie|credential",
    re.IGNORECASE,
)
# API keys, webhook signing secrets and bearer tokens, wherever they appear in a message.
SECRET_VALUES = re.compile(r"(cpg_|whsec_)[A-Za-z0-9_\-+/=]{6,}|(?i:bearer\s+)[A-Za-z0-9._\-]{8,}")
MASK = "[redacted]"


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return SECRET_VALUES.sub(MASK, value)
    if isinstance(value, dict):
        return {key: _redact_item(key, item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
    return value


def _redact_item(key: str, value: Any) -> Any:
    return MASK if SECRET_KEYS.search(str(key)) else _redact_value(value)


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secrets by key and by shape."""
    return {key: _redact_item(key, value) for key, value in event_dict.items()}


def add_request_id(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the request id bound to this request or task."""
    request_id = request_id_var.get()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict


def drop_color_message(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: uvicorn's `color_message` extra (the message with ANSI colours)."""
    event_dict.pop("color_message", None)
    return event_dict


def configure_logging(settings: LogSettings) -> None:
    """Route structlog and the standard library (uvicorn, SQLAlchemy, httpx) to one format.

    Every process calls it (API, worker, emulator), after uvicorn applied its own config if any.
    """
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_request_id,
        structlog.stdlib.ExtraAdder(),
        drop_color_message,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)
    # Our own access line replaces uvicorn's; httpx's per-request INFO lines would echo URLs.
    for noisy in ("uvicorn.access", "httpx", "httpcore", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # uvicorn's own handlers write plain text: its lines go through the root handler instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # pyHanko logs a warning with a traceback for every certificate it cannot chain to a root
    # (any self-signed one); the gateway reports trust in the invoice answer instead.
    for name in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(name).setLevel(logging.ERROR)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structured logger."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
