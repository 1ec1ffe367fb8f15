"""Secrets are masked before a log line is written, and never reach a traceback."""

from __future__ import annotations

import traceback

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.logging import MASK, redact_secrets


def test_values_under_secret_keys_are_masked() -> None:
    event = redact_secrets(
        None,
        "info",
        {
            "event": "x",
            "password": "hunter2",
            "client_secret": "s",
            "headers": {"Authorization": "Bearer abc", "cpro-account": "bG9n", "accept": "json"},
        },
    )
    assert event["password"] == MASK
    assert event["client_secret"] == MASK
    assert event["headers"] == {"Authorization": MASK, "cpro-account": MASK, "accept": "json"}


def test_keys_and_tokens_are_masked_wherever_they_appear() -> None:
    event = redact_secrets(
        None,
        "info",
        {
            "event": "sent with cpg_AbCdEf0123456789 and whsec_c2VjcmV0c2VjcmV0",
            "detail": ["Authorization: Bearer eyJhbGciOi.payload.sig"],
        },
    )
    assert "cpg_AbCdEf" not in event["event"]
    assert "whsec_c2Vj" not in event["event"]
    assert "eyJhbGciOi" not in event["detail"][0]
    assert event["event"].count(MASK) == 2


async def test_database_errors_never_carry_the_sql_parameters(engine: AsyncEngine) -> None:
    row = {"siret": "41234567010000", "login": "TECH", "password_ciphertext": "gAAAA-SEALED-SECRET"}
    insert = text(
        "INSERT INTO supplier_structure (siret, login, password_ciphertext, created_at, updated_at)"
        " VALUES (:siret, :login, :password_ciphertext, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    async with engine.begin() as connection:
        await connection.execute(insert, row)
    with pytest.raises(IntegrityError) as raised:
        async with engine.begin() as connection:
            await connection.execute(insert, row)
    rendered = "".join(traceback.format_exception(raised.value))
    assert "gAAAA-SEALED-SECRET" not in rendered
    assert "TECH" not in rendered
    assert "parameters hidden" in rendered
