"""Fault injection: each kind, targeting, next_n, probabilities, and the control endpoints."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from app.emulator.faults import ResponseDropped

from .builders import CLIENT_FORM, login, saisie_invoice
from .conftest import MakeClient

SOUMETTRE = "/cpro/factures/v1/soumettre"
HEALTH = "/cpro/transverses/v1/health-check"


async def _inject(
    client: httpx.AsyncClient, *rules: dict[str, Any], seed: int | None = None
) -> None:
    response = await client.put("/_emulator/faults", json={"rules": list(rules), "seed": seed})
    assert response.status_code == 200, response.text


async def _total(client: httpx.AsyncClient) -> int:
    return int((await client.get("/_emulator/invoices")).json()["total"])


@pytest.mark.parametrize(
    ("kind", "status"), [("http_500", 500), ("http_502", 502), ("http_503", 503), ("http_429", 429)]
)
async def test_an_http_error_fault_answers_without_processing(
    client: httpx.AsyncClient, acme: dict[str, str], kind: str, status: int
) -> None:
    await _inject(client, {"endpoint": "factures/v1/soumettre", "kind": kind})

    response = await client.post(SOUMETTRE, json=saisie_invoice(), headers=acme)

    assert response.status_code == status
    assert await _total(client) == 0


@pytest.mark.parametrize(("kind", "status"), [("http_429", 429), ("http_503", 503)])
async def test_retry_after_is_sent_for_429_and_503(
    client: httpx.AsyncClient, acme: dict[str, str], kind: str, status: int
) -> None:
    await _inject(client, {"endpoint": "*", "kind": kind, "retry_after": 7})

    response = await client.post(SOUMETTRE, json=saisie_invoice(), headers=acme)

    assert response.status_code == status
    assert response.headers["retry-after"] == "7"


@pytest.mark.parametrize(("kind", "status"), [("http_401", 401), ("http_403", 403)])
async def test_a_denial_fault_has_an_empty_body_and_keeps_the_token(
    client: httpx.AsyncClient, acme: dict[str, str], kind: str, status: int
) -> None:
    await _inject(client, {"endpoint": "*", "kind": kind, "next_n": 1})

    denied = await client.post(SOUMETTRE, json=saisie_invoice(), headers=acme)
    after = await client.post(SOUMETTRE, json=saisie_invoice(), headers=acme)

    assert denied.status_code == status
    assert denied.content == b""
    assert after.json()["codeRetour"] == 0


async def test_token_invalid_client_refuses_valid_credentials_like_piste_sometimes_does(
    client: httpx.AsyncClient,
) -> None:
    await _inject(client, {"endpoint": "oauth/token", "kind": "token_invalid_client", "next_n": 2})

    answers = [await client.post("/api/oauth/token", data=CLIENT_FORM) for _ in range(3)]

    assert [a.status_code for a in answers] == [400, 400, 200]
    assert answers[0].json()["error"] == "invalid_client"
    assert answers[2].json()["access_token"]


async def test_revoke_token_invalidates_every_issued_token(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    await _inject(
        client, {"endpoint": "transverses/v1/health-check", "kind": "revoke_token", "next_n": 1}
    )

    revoked = await client.get(HEALTH, headers=acme)
    old_token = await client.get(HEALTH, headers=acme)
    new_token = await client.get(HEALTH, headers=await login(client))

    assert revoked.status_code == 401
    assert revoked.content == b""
    assert old_token.status_code == 401
    assert new_token.status_code == 200


async def test_next_n_fires_on_the_next_n_matching_calls_only(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    await _inject(client, {"endpoint": "factures/v1/soumettre", "kind": "http_503", "next_n": 2})

    health = await client.get(HEALTH, headers=acme)
    statuses = [
        (await client.post(SOUMETTRE, json=saisie_invoice(f"F-{n}"), headers=acme)).status_code
        for n in range(3)
    ]

    assert health.status_code == 200
    assert statuses == [503, 503, 200]
    view = (await client.get("/_emulator/faults")).json()
    assert view["rules"][0]["fired"] == 2
    assert view["rules"][0]["remaining"] == 0


async def test_probabilities_are_reproducible_with_a_seed(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    runs = []
    for _ in range(2):
        await _inject(client, {"endpoint": "*", "kind": "http_500", "probability": 0.5}, seed=42)
        runs.append([(await client.get(HEALTH, headers=acme)).status_code for _ in range(20)])

    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 500}


@pytest.mark.parametrize(("probability", "expected"), [(0.0, 200), (1.0, 500)])
async def test_probability_bounds(
    client: httpx.AsyncClient, acme: dict[str, str], probability: float, expected: int
) -> None:
    await _inject(client, {"kind": "http_500", "probability": probability})

    statuses = {(await client.get(HEALTH, headers=acme)).status_code for _ in range(10)}

    assert statuses == {expected}


async def test_the_token_endpoint_can_fail_too(client: httpx.AsyncClient) -> None:
    await _inject(client, {"endpoint": "/api/oauth/token", "kind": "http_503", "next_n": 1})

    failed = await client.post("/api/oauth/token", data=CLIENT_FORM)
    retried = await client.post("/api/oauth/token", data=CLIENT_FORM)

    assert failed.status_code == 503
    assert retried.status_code == 200


@pytest.mark.parametrize(
    "endpoint",
    [
        "factures/v1/rechercher/fournisseur",
        "transverses/v1/consulterCR",
        "transverses/v1/consulterCRDetaille",
    ],
)
@pytest.mark.parametrize(("kind", "status"), [("http_503", 503), ("read_timeout", 504)])
async def test_the_reads_the_flux_channel_relies_on_can_fail(
    client: httpx.AsyncClient, acme: dict[str, str], endpoint: str, kind: str, status: int
) -> None:
    await _inject(client, {"endpoint": endpoint, "kind": kind, "next_n": 1, "delay_ms": 10})
    body = {} if endpoint.startswith("factures") else {"numeroFluxDepot": "CPP" + "0" * 22}

    failed = await client.post(f"/cpro/{endpoint}", json=body, headers=acme)
    retried = await client.post(f"/cpro/{endpoint}", json=body, headers=acme)

    assert failed.status_code == status
    assert retried.status_code == 200
    assert "codeRetour" in retried.json()
    assert (await client.get("/_emulator/stats")).json()["faults_fired"] == {kind: 1}


async def test_latency_delays_then_processes(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    await _inject(client, {"endpoint": "factures/v1/soumettre", "kind": "latency", "delay_ms": 80})

    started = time.monotonic()
    response = await client.post(SOUMETTRE, json=saisie_invoice(), headers=acme)

    assert time.monotonic() - started >= 0.08
    assert response.json()["codeRetour"] == 0
    assert await _total(client) == 1


async def test_read_timeout_answers_late_and_records_nothing(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    await _inject(
        client, {"endpoint": "factures/v1/soumettre", "kind": "read_timeout", "delay_ms": 80}
    )

    started = time.monotonic()
    response = await client.post(SOUMETTRE, json=saisie_invoice(), headers=acme)

    assert time.monotonic() - started >= 0.08
    assert response.status_code == 504
    assert await _total(client) == 0


async def test_commit_then_drop_records_the_invoice_and_loses_the_answer(
    make_client: MakeClient,
) -> None:
    client = await make_client(saisie_numbering="sender")
    acme = await login(client)
    await _inject(
        client, {"endpoint": "factures/v1/soumettre", "kind": "commit_then_drop", "next_n": 1}
    )

    with pytest.raises(httpx.RemoteProtocolError) as dropped:
        await client.post(SOUMETTRE, json=saisie_invoice("F-1"), headers=acme)
    retry = await client.post(SOUMETTRE, json=saisie_invoice("F-1"), headers=acme)

    assert isinstance(dropped.value, ResponseDropped)
    assert retry.json()["codeRetour"] == 20300
    truth = (await client.get("/_emulator/invoices")).json()
    assert truth["total"] == 1
    assert truth["duplicates_refused"] == 1


async def test_a_blind_resend_after_a_dropped_saisie_answer_makes_a_second_chorus_invoice(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    # Chorus numbers SAISIE_API invoices (the default), so nothing tells the resend apart.
    await _inject(
        client, {"endpoint": "factures/v1/soumettre", "kind": "commit_then_drop", "next_n": 1}
    )

    with pytest.raises(httpx.RemoteProtocolError):
        await client.post(SOUMETTRE, json=saisie_invoice("F-1"), headers=acme)
    retry = await client.post(SOUMETTRE, json=saisie_invoice("F-1"), headers=acme)

    assert retry.json()["codeRetour"] == 0
    truth = (await client.get("/_emulator/invoices")).json()
    assert truth["total"] == 2
    assert truth["duplicates_refused"] == 0
    assert [invoice["sender_number"] for invoice in truth["invoices"]] == ["F-1", "F-1"]
    assert truth["invoices"][1]["number"] == retry.json()["numeroFacture"]


async def test_commit_then_drop_can_hang_first(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    await _inject(client, {"endpoint": "*", "kind": "commit_then_drop", "delay_ms": 60})

    started = time.monotonic()
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post(SOUMETTRE, json=saisie_invoice("F-1"), headers=acme)

    assert time.monotonic() - started >= 0.06
    assert await _total(client) == 1


async def test_faults_are_listed_counted_and_cleared(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    await _inject(client, {"endpoint": "cpro/factures/v1/soumettre", "kind": "http_500"}, seed=1)
    await client.post(SOUMETTRE, json=saisie_invoice(), headers=acme)

    listed = (await client.get("/_emulator/faults")).json()
    stats = (await client.get("/_emulator/stats")).json()
    cleared = await client.delete("/_emulator/faults")
    after = await client.post(SOUMETTRE, json=saisie_invoice(), headers=acme)

    assert listed["seed"] == 1
    assert listed["rules"][0]["rule"]["endpoint"] == "factures/v1/soumettre"
    assert listed["rules"][0]["fired"] == 1
    assert stats["faults_fired"] == {"http_500": 1}
    assert stats["calls"]["factures/v1/soumettre"] == 1
    assert cleared.json()["rules"] == []
    assert after.status_code == 200


@pytest.mark.parametrize(
    "rule",
    [
        {"endpoint": "factures/v1/inexistant", "kind": "http_500"},
        {"kind": "http_418"},
        {"kind": "http_500", "probability": 1.5},
        {"kind": "http_500", "next_n": 0},
        {"kind": "http_500", "colour": "red"},
    ],
)
async def test_an_invalid_rule_gets_422(client: httpx.AsyncClient, rule: dict[str, Any]) -> None:
    response = await client.put("/_emulator/faults", json={"rules": [rule]})

    assert response.status_code == 422


async def test_the_control_api_is_never_faulted(client: httpx.AsyncClient) -> None:
    await _inject(client, {"kind": "http_500"})

    assert (await client.get("/_emulator/invoices")).status_code == 200
