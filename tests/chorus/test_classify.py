"""Every response shape Chorus or PISTE can give, and the outcome class it must map to."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.chorus.classify import DUPLICATE_CODES, Accepted, classify, parse_retry_after
from app.chorus.errors import (
    ChorusAmbiguous,
    ChorusAuthError,
    ChorusDuplicate,
    ChorusError,
    ChorusNotSent,
    ChorusRefusal,
)

SUBMIT = "factures/v1/soumettre"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def envelope(code: Any, label: str = "GCU_MSG_01_000", **extra: Any) -> bytes:
    return json.dumps({"codeRetour": code, "libelle": label, **extra}).encode()


_REQUEST = httpx.Request("POST", "http://chorus.test/cpro/factures/v1/soumettre")

RESPONSES: list[tuple[str, int, dict[str, str], bytes, type]] = [
    # (case, status, headers, body, expected outcome class)
    ("success", 200, {}, envelope(0, identifiantFactureCPP=1), Accepted),
    ("success without codeRetour", 200, {}, b'{"identifiantFactureCPP": 1}', Accepted),
    ("success codeRetour as text", 200, {}, envelope("0"), Accepted),
    ("202 accepted", 202, {}, envelope(0), Accepted),
    ("refusal on 200", 200, {}, envelope(20301, "GDP_MSG_11.008"), ChorusRefusal),
    ("refusal on 400 with envelope", 400, {}, envelope(20305, "montants"), ChorusRefusal),
    ("refusal on 404 with envelope", 404, {}, envelope(20000, "n'existe pas"), ChorusRefusal),
    ("duplicate on 200", 200, {}, envelope(20300, "existe deja"), ChorusDuplicate),
    ("duplicate on 400", 400, {}, envelope(20300, "existe deja"), ChorusDuplicate),
    ("400 without envelope", 400, {}, b"Bad Request", ChorusRefusal),
    ("400 with PISTE error json", 400, {}, b'{"error": "invalid_request"}', ChorusRefusal),
    ("413 payload too large", 413, {}, b"", ChorusRefusal),
    ("2xx without body", 200, {}, b"", ChorusAmbiguous),
    ("2xx html", 200, {"content-type": "text/html"}, b"<html>maintenance</html>", ChorusAmbiguous),
    ("2xx json array", 200, {}, b"[1, 2]", ChorusAmbiguous),
    ("2xx unreadable codeRetour", 200, {}, envelope("zero"), ChorusAmbiguous),
    ("2xx truncated json", 200, {}, b'{"codeRetour": 0, "identifiant', ChorusAmbiguous),
    ("401 empty", 401, {}, b"", ChorusAuthError),
    ("401 with a challenge", 401, {"WWW-Authenticate": "Bearer"}, b"", ChorusAuthError),
    ("403 empty", 403, {}, b"", ChorusAuthError),
    ("403 with envelope", 403, {}, envelope(1, "refus"), ChorusAuthError),
    ("429 with retry-after", 429, {"Retry-After": "7"}, b"", ChorusNotSent),
    ("429 without retry-after", 429, {}, b"", ChorusNotSent),
    ("503 with retry-after", 503, {"Retry-After": "3"}, b"<html/>", ChorusNotSent),
    ("503 with an envelope", 503, {}, envelope(99), ChorusNotSent),
    ("500 empty", 500, {}, b"", ChorusAmbiguous),
    ("500 with an envelope", 500, {}, envelope(20300), ChorusAmbiguous),
    ("502 bad gateway", 502, {}, b"<html/>", ChorusAmbiguous),
    ("504 gateway timeout", 504, {}, b"", ChorusAmbiguous),
    ("501 not implemented", 501, {}, b"", ChorusAmbiguous),
    ("404 API not found", 404, {}, b"", ChorusNotSent),
    ("405 wrong method", 405, {}, b"", ChorusNotSent),
    ("408 request timeout", 408, {}, b"", ChorusNotSent),
    ("415 media type", 415, {}, b"", ChorusNotSent),
    ("302 redirect to a login page", 302, {"Location": "/login"}, b"", ChorusNotSent),
]


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"),
    [row[1:] for row in RESPONSES],
    ids=[row[0] for row in RESPONSES],
)
def test_a_response_maps_to_its_outcome_class(
    status: int, headers: dict[str, str], body: bytes, expected: type
) -> None:
    outcome = classify(
        endpoint=SUBMIT,
        status_code=status,
        headers=headers,
        body=body,
        duplicate_codes=DUPLICATE_CODES,
        now=NOW,
    )
    assert type(outcome) is expected


TRANSPORT_ERRORS: list[tuple[Exception, type]] = [
    (httpx.ConnectError("[Errno 111] Connection refused", request=_REQUEST), ChorusNotSent),
    (httpx.ConnectTimeout("timed out", request=_REQUEST), ChorusNotSent),
    (httpx.PoolTimeout("no connection", request=_REQUEST), ChorusNotSent),
    (httpx.WriteTimeout("timed out", request=_REQUEST), ChorusNotSent),
    (httpx.WriteError("broken pipe", request=_REQUEST), ChorusNotSent),
    (httpx.ProxyError("proxy down", request=_REQUEST), ChorusNotSent),
    (httpx.UnsupportedProtocol("ftp", request=_REQUEST), ChorusNotSent),
    (httpx.ReadTimeout("timed out", request=_REQUEST), ChorusAmbiguous),
    (httpx.ReadError("connection reset by peer", request=_REQUEST), ChorusAmbiguous),
    (httpx.RemoteProtocolError("Server disconnected", request=_REQUEST), ChorusAmbiguous),
    (httpx.DecodingError("bad gzip", request=_REQUEST), ChorusAmbiguous),
    (ConnectionResetError("reset"), ChorusAmbiguous),
]


@pytest.mark.parametrize(
    ("exc", "expected"), TRANSPORT_ERRORS, ids=[type(e).__name__ for e, _ in TRANSPORT_ERRORS]
)
def test_a_transport_exception_maps_to_its_outcome_class(exc: Exception, expected: type) -> None:
    outcome = classify(endpoint=SUBMIT, exc=exc)
    assert type(outcome) is expected
    assert isinstance(outcome, ChorusError)
    assert outcome.endpoint == SUBMIT


def test_a_refusal_carries_chorus_code_label_and_status() -> None:
    outcome = classify(endpoint=SUBMIT, status_code=400, body=envelope(20305, "GDP_MSG_11.020"))
    assert isinstance(outcome, ChorusRefusal)
    assert (outcome.code, outcome.label, outcome.status_code) == (20305, "GDP_MSG_11.020", 400)
    assert "20305" in str(outcome)


def test_a_400_without_envelope_is_a_refusal_without_code() -> None:
    outcome = classify(endpoint=SUBMIT, status_code=400, body=b"")
    assert isinstance(outcome, ChorusRefusal)
    assert outcome.code is None
    assert outcome.label == "HTTP 400"


def test_duplicate_codes_are_configurable() -> None:
    body = envelope(20999, "numero deja utilise")
    assert type(classify(endpoint=SUBMIT, status_code=200, body=body)) is ChorusRefusal
    custom = classify(endpoint=SUBMIT, status_code=200, body=body, duplicate_codes={20999})
    assert type(custom) is ChorusDuplicate
    assert isinstance(custom, ChorusRefusal)


def test_a_success_payload_keeps_amounts_exact() -> None:
    outcome = classify(endpoint=SUBMIT, status_code=200, body=b'{"codeRetour":0,"m":50.10}')
    assert isinstance(outcome, Accepted)
    assert outcome.payload["m"] == Decimal("50.10")


def test_retry_after_is_read_from_429_and_503() -> None:
    for status in (429, 503):
        outcome = classify(endpoint=SUBMIT, status_code=status, headers={"retry-after": "12"})
        assert isinstance(outcome, ChorusNotSent)
        assert outcome.retry_after == 12.0
    missing = classify(endpoint=SUBMIT, status_code=429)
    assert isinstance(missing, ChorusNotSent)
    assert missing.retry_after is None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("5", 5.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("Sat, 01 Mar 2025 12:00:30 GMT", 30.0),
        ("Sat, 01 Mar 2025 11:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_accepts_seconds_and_http_dates(header: str | None, seconds: float) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_classify_needs_a_status_or_an_exception() -> None:
    with pytest.raises(ValueError, match="status code or an exception"):
        classify(endpoint=SUBMIT)


def test_every_outcome_class_is_a_chorus_error_except_success() -> None:
    for _, status, headers, body, expected in RESPONSES:
        outcome = classify(endpoint=SUBMIT, status_code=status, headers=headers, body=body)
        assert isinstance(outcome, Accepted) or isinstance(outcome, ChorusError)
        assert (expected is Accepted) == isinstance(outcome, Accepted)
