"""Turn one HTTP exchange with Chorus Pro into a call result: accepted, or an error of the tree.

Pure: no I/O and no clock unless given, so every response shape is a row in a unit-test table.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from app.chorus.errors import (
    ChorusAmbiguous,
    ChorusAuthError,
    ChorusDuplicate,
    ChorusError,
    ChorusNotSent,
    ChorusRefusal,
)

# The code Chorus uses for "this invoice number already exists" is not public (chorus-pro.md §3);
# 20300 is the emulator's default. Callers pass their own set when Chorus's turns out different.
DUPLICATE_CODES: frozenset[int] = frozenset({20300})
# A search that matched nothing can answer `codeRetour` 20000 ("la recherche n'a retourné aucun
# résultat") on HTTP 200 instead of an empty list, as peers report; on a search it means "none".
NO_RESULT_CODES: frozenset[int] = frozenset({20000})

# The request never reached an operation: nothing was read by Chorus, so resending is safe.
_NOT_SENT_TRANSPORT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    # A write that failed or timed out left the request body incomplete: Chorus cannot act on it.
    httpx.WriteError,
    httpx.WriteTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)

# 4xx answers that refuse the request itself: resending the same bytes cannot succeed.
_REFUSED_WHOLE = frozenset({400, 413, 422})


@dataclass(frozen=True, slots=True)
class Accepted:
    """A successful answer: a 2xx whose envelope says `codeRetour` 0; `payload` is its JSON."""

    status_code: int
    payload: dict[str, Any]


# What one Chorus call gave (not the outbox `Outcome` a handler returns to the worker).
ChorusCallResult = Accepted | ChorusError


def read_json(body: bytes) -> Any:
    """Parse a JSON body with exact decimals (Chorus amounts), or None if it is not JSON."""
    if not body.strip():
        return None
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        return None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date), or None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _return_code(envelope: dict[str, Any]) -> int | None:
    """`codeRetour` as an int, or None when missing or not a number."""
    raw = envelope.get("codeRetour")
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str | Decimal):
        try:
            return int(raw)
        except ValueError:
            return None
    return None


def _refusal(
    *,
    endpoint: str,
    status_code: int,
    code: int | None,
    label: str,
    duplicate_codes: Collection[int],
) -> ChorusRefusal:
    kind = ChorusDuplicate if code is not None and code in duplicate_codes else ChorusRefusal
    shown = "no code" if code is None else f"code {code}"
    return kind(
        f"Chorus refused {endpoint} (HTTP {status_code}, {shown}): {label}",
        code=code,
        label=label,
        endpoint=endpoint,
        status_code=status_code,
    )


def classify_exception(exc: BaseException, *, endpoint: str) -> ChorusError:
    """The outcome of a call that raised instead of answering."""
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, _NOT_SENT_TRANSPORT):
        return ChorusNotSent(f"{endpoint} not sent ({detail})", endpoint=endpoint)
    # Read timeouts, resets mid-response, protocol errors: the request may have been processed.
    return ChorusAmbiguous(f"{endpoint} outcome unknown ({detail})", endpoint=endpoint)


def classify(
    *,
    endpoint: str,
    status_code: int | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    exc: BaseException | None = None,
    duplicate_codes: Collection[int] = frozenset(),
    now: datetime | None = None,
) -> ChorusCallResult:
    """Classify one exchange from its HTTP status, headers, body or transport exception."""
    if exc is not None:
        return classify_exception(exc, endpoint=endpoint)
    if status_code is None:
        raise ValueError("classify needs a status code or an exception")
    headers = {key.lower(): value for key, value in (headers or {}).items()}

    if status_code in (401, 403):
        # PISTE answers these with an empty body (chorus-pro.md §1.3); the caller refreshes once.
        return ChorusAuthError(
            f"{endpoint} denied (HTTP {status_code}): PISTE access or technical account refused",
            endpoint=endpoint,
            status_code=status_code,
        )
    # Throttled or unavailable before processing (reliability.md): safe to resend.
    if status_code in (429, 503):
        retry_after = parse_retry_after(headers.get("retry-after"), now=now)
        return ChorusNotSent(
            f"{endpoint} not processed (HTTP {status_code})",
            endpoint=endpoint,
            status_code=status_code,
            retry_after=retry_after,
        )
    # A 500, 502 or 504 may come after Chorus acted: reconcile before any resend.
    if status_code >= 500:
        return ChorusAmbiguous(
            f"{endpoint} outcome unknown (HTTP {status_code})",
            endpoint=endpoint,
            status_code=status_code,
        )
    # 408: the request never arrived whole, so the operation never ran.
    if status_code == 408:
        return ChorusNotSent(
            f"{endpoint} not processed (HTTP 408)", endpoint=endpoint, status_code=status_code
        )

    parsed = read_json(body)
    envelope = parsed if isinstance(parsed, dict) else None
    code = _return_code(envelope) if envelope is not None else None
    label = str(envelope.get("libelle") or "") if envelope is not None else ""

    if 200 <= status_code < 300:
        # Without its envelope a 2xx proves nothing: it may or may not have landed.
        if envelope is None:
            return ChorusAmbiguous(
                f"{endpoint} answered HTTP {status_code} without a JSON envelope",
                endpoint=endpoint,
                status_code=status_code,
            )
        if "codeRetour" in envelope and code is None:
            return ChorusAmbiguous(
                f"{endpoint} answered an unreadable codeRetour",
                endpoint=endpoint,
                status_code=status_code,
            )
        if code not in (None, 0):
            # Chorus reports business refusals on HTTP 200 too (chorus-pro.md §3).
            return _refusal(
                endpoint=endpoint,
                status_code=status_code,
                code=code,
                label=label,
                duplicate_codes=duplicate_codes,
            )
        return Accepted(status_code=status_code, payload=envelope)

    if 400 <= status_code < 500:
        if code not in (None, 0) or status_code in _REFUSED_WHOLE:
            return _refusal(
                endpoint=endpoint,
                status_code=status_code,
                code=code,
                label=label or f"HTTP {status_code}",
                duplicate_codes=duplicate_codes,
            )
        # 404 (API not subscribed or wrong URL), 405, 415...: the operation never ran.
        return ChorusNotSent(
            f"{endpoint} not processed (HTTP {status_code})",
            endpoint=endpoint,
            status_code=status_code,
        )

    # 1xx and 3xx (redirects are not followed): the operation was not reached.
    return ChorusNotSent(
        f"{endpoint} not processed (HTTP {status_code})", endpoint=endpoint, status_code=status_code
    )
