"""The delay faults against a real uvicorn server, where a client's read timeout applies."""

from __future__ import annotations

import httpx
import pytest

from .builders import login, saisie_invoice

SOUMETTRE = "/cpro/factures/v1/soumettre"


async def test_commit_then_drop_cuts_the_connection(served: httpx.AsyncClient) -> None:
    headers = await login(served)
    await served.put(
        "/_emulator/faults", json={"rules": [{"kind": "commit_then_drop", "next_n": 1}]}
    )

    with pytest.raises(httpx.RemoteProtocolError):
        await served.post(SOUMETTRE, json=saisie_invoice(), headers=headers)

    assert (await served.get("/_emulator/invoices")).json()["total"] == 1


async def test_read_timeout_outlasts_the_clients_read_timeout(served: httpx.AsyncClient) -> None:
    headers = await login(served)
    rule = {"endpoint": "factures/v1/soumettre", "kind": "read_timeout", "delay_ms": 2000}
    await served.put("/_emulator/faults", json={"rules": [rule]})

    with pytest.raises(httpx.ReadTimeout):
        await served.post(SOUMETTRE, json=saisie_invoice(), headers=headers, timeout=0.2)

    assert (await served.get("/_emulator/invoices")).json()["total"] == 0
