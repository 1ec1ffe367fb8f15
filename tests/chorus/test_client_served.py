"""Outcome classes that only real sockets show: the emulator served by uvicorn, faults injected."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import httpx
import pytest

from app.chorus.client import ChorusClient
from app.chorus.errors import (
    ChorusAmbiguous,
    ChorusAuthError,
    ChorusDuplicate,
    ChorusError,
    ChorusNotSent,
    ChorusRefusal,
    ChorusTokenError,
)
from app.request_context import request_id_var
from tests.support.servers import free_port

from .builders import CLIENT_SECRET, SUPPLIER_1, chorus_settings, invoice_number, saisie_invoice
from .conftest import READ_TIMEOUT, HeaderRecorder, put_faults, served_settings

SUPPLIER_1_ID = 26000101
SUBMIT = "factures/v1/soumettre"


async def ground_truth(control: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await control.get("/_emulator/invoices")
    response.raise_for_status()
    return response.json()["invoices"]  # type: ignore[no-any-return]


async def fault(control: httpx.AsyncClient, kind: str, **rule: Any) -> None:
    await put_faults(control, {"endpoint": SUBMIT, "kind": kind, **rule})


@pytest.fixture
async def primed(client: ChorusClient) -> ChorusClient:
    """The client with a token already cached, so faults hit only the call under test."""
    await client.active_supplier_structures(SUPPLIER_1)
    return client


async def test_a_submission_over_real_http_succeeds(
    client: ChorusClient, control: httpx.AsyncClient
) -> None:
    result = await client.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID))
    assert result.statutFacture == "DEPOSEE"
    assert [i["id"] for i in await ground_truth(control)] == [result.identifiantFactureCPP]


@pytest.mark.parametrize("kind", ["http_500", "http_502"])
async def test_a_500_or_502_is_ambiguous(
    primed: ChorusClient, control: httpx.AsyncClient, kind: str
) -> None:
    await fault(control, kind, next_n=1)
    with pytest.raises(ChorusAmbiguous) as caught:
        await primed.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID))
    assert caught.value.status_code == int(kind[-3:])


async def test_a_read_timeout_is_ambiguous_and_leaves_nothing_to_adopt(
    primed: ChorusClient, control: httpx.AsyncClient
) -> None:
    number = invoice_number("RT")
    await fault(control, "read_timeout", next_n=1, delay_ms=3000)
    started = time.monotonic()
    with pytest.raises(ChorusAmbiguous, match="ReadTimeout"):
        await primed.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID, number=number))
    assert time.monotonic() - started < READ_TIMEOUT + 1
    # Reconciliation: the emulator never processed it, so a search finds nothing and a resend is
    # then safe.
    assert await primed.search_supplier_invoices(SUPPLIER_1, invoice_number=number) == []
    resent = await primed.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID, number=number))
    assert resent.numeroFacture == number


async def test_a_slow_answer_within_the_read_timeout_succeeds(
    primed: ChorusClient, control: httpx.AsyncClient
) -> None:
    await fault(control, "latency", next_n=1, delay_ms=100)
    result = await primed.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID))
    assert result.identifiantFactureCPP


async def test_a_response_dropped_after_commit_is_ambiguous_and_found_by_its_number(
    primed: ChorusClient, control: httpx.AsyncClient
) -> None:
    number = invoice_number("CD")
    await fault(control, "commit_then_drop", next_n=1)
    with pytest.raises(ChorusAmbiguous):
        await primed.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID, number=number))
    found = await primed.search_supplier_invoices(SUPPLIER_1, invoice_number=number)
    assert [i.numeroFacture for i in found] == [number]
    # A blind resend would be refused as a duplicate: the invoice landed exactly once.
    with pytest.raises(ChorusDuplicate):
        await primed.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID, number=number))
    assert [i["number"] for i in await ground_truth(control)] == [number]


@pytest.mark.parametrize(("kind", "status"), [("http_503", 503), ("http_429", 429)])
async def test_a_503_or_429_is_not_sent_and_says_when_to_retry(
    primed: ChorusClient,
    control: httpx.AsyncClient,
    kind: str,
    status: int,
) -> None:
    await fault(control, kind, next_n=1, retry_after=7)
    with pytest.raises(ChorusNotSent) as caught:
        await primed.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID))
    assert (caught.value.status_code, caught.value.retry_after) == (status, 7.0)
    assert await ground_truth(control) == []


async def test_a_failing_token_endpoint_is_not_sent(
    client: ChorusClient, control: httpx.AsyncClient
) -> None:
    await put_faults(control, {"endpoint": "oauth/token", "kind": "http_503"})
    with pytest.raises(ChorusTokenError) as caught:
        await client.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID))
    assert isinstance(caught.value, ChorusNotSent)
    assert await ground_truth(control) == []


async def test_a_refused_connection_is_not_sent(emulator_url: str) -> None:
    # The token comes from the emulator; the API itself listens nowhere.
    dead_api = f"http://127.0.0.1:{free_port()}"
    settings = served_settings(dead_api, token_url=f"{emulator_url}/api/oauth/token")
    async with ChorusClient(settings) as client:
        with pytest.raises(ChorusNotSent, match="ConnectError") as caught:
            await client.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID))
    assert type(caught.value) is ChorusNotSent


async def test_an_unreachable_token_endpoint_is_not_sent() -> None:
    async with ChorusClient(served_settings(f"http://127.0.0.1:{free_port()}")) as client:
        with pytest.raises(ChorusTokenError, match="unreachable"):
            await client.active_supplier_structures(SUPPLIER_1)


async def test_the_emulator_receives_bearer_account_and_request_id_headers(
    client: ChorusClient, recorder: HeaderRecorder
) -> None:
    token = request_id_var.set("req-served-42")
    try:
        await client.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID))
    finally:
        request_id_var.reset(token)
    (received,) = [h for h in recorder.received if h["path"] == f"/cpro/{SUBMIT}"]
    assert received["x-request-id"] == "req-served-42"
    assert received["content-type"] == "application/json;charset=utf-8"
    assert received["authorization"].startswith("Bearer ")
    login_password = base64.b64decode(received["cpro-account"]).decode()
    assert login_password == f"{SUPPLIER_1.login}:{SUPPLIER_1.password.get_secret_value()}"


async def test_concurrent_calls_share_one_token(
    client: ChorusClient, control: httpx.AsyncClient
) -> None:
    await asyncio.gather(*(client.active_supplier_structures(SUPPLIER_1) for _ in range(10)))
    stats = (await control.get("/_emulator/stats")).json()
    assert stats["calls"]["oauth/token"] == 1


async def test_calls_are_throttled_per_credential(
    emulator_url: str, control: httpx.AsyncClient
) -> None:
    settings = served_settings(emulator_url, rate_per_second=20.0, rate_burst=2)
    async with ChorusClient(settings) as client:
        await client.active_supplier_structures(SUPPLIER_1)
        started = time.monotonic()
        await asyncio.gather(*(client.health_check(SUPPLIER_1) for _ in range(7)))
        elapsed = time.monotonic() - started
    # One token left after the first call, then six more at twenty per second.
    assert elapsed >= 0.25


async def test_no_secret_appears_in_any_error(
    emulator_url: str, control: httpx.AsyncClient
) -> None:
    errors: list[ChorusError] = []
    bad_secret = "piste-secret-XYZ"

    async def collect(client: ChorusClient, kind: str | None, **rule: Any) -> None:
        if kind is not None:
            await fault(control, kind, **{"next_n": 1, **rule})
        try:
            await client.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID))
        except ChorusError as exc:
            errors.append(exc)

    async with ChorusClient(served_settings(emulator_url)) as client:
        await client.active_supplier_structures(SUPPLIER_1)
        token = client._tokens._entry(client.settings).token
        for kind, rule in [
            ("http_500", {}),
            ("http_503", {"retry_after": 1}),
            ("read_timeout", {"delay_ms": 2000}),
            ("commit_then_drop", {}),
            ("http_403", {"next_n": 1 + client.settings.auth_retries}),
        ]:
            await collect(client, kind, **rule)
        # A duplicate of the invoice the drop above committed.
        errors.append(
            await _refusal(client, saisie_invoice(SUPPLIER_1_ID, recipient="99999999999999"))
        )
    async with ChorusClient(
        chorus_settings(api_url=emulator_url, client_secret=bad_secret)
    ) as wrong_piste:
        await collect(wrong_piste, None)

    kinds = {type(e) for e in errors}
    expected = {ChorusAmbiguous, ChorusNotSent, ChorusAuthError, ChorusRefusal, ChorusTokenError}
    assert expected <= kinds
    secrets = [
        CLIENT_SECRET,
        bad_secret,
        SUPPLIER_1.password.get_secret_value(),
        SUPPLIER_1.cpro_account,
        token or "no-token",
    ]
    for error in errors:
        chain: list[BaseException] = [error]
        while chain[-1].__cause__ is not None:
            chain.append(chain[-1].__cause__)
        for link in chain:
            for text in (str(link), repr(link)):
                for secret in secrets:
                    assert secret not in text, (type(error).__name__, text)


async def _refusal(client: ChorusClient, request: Any) -> ChorusError:
    with pytest.raises(ChorusRefusal) as caught:
        await client.submit_invoice(SUPPLIER_1, request)
    return caught.value
