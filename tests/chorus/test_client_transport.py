"""Client behaviour on answers the emulator never gives, through a fake PISTE transport."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from app.chorus.client import ChorusClient
from app.chorus.errors import ChorusAmbiguous, ChorusAuthError, ChorusNotSent, ChorusRefusal
from app.request_context import request_id_var

from .builders import SUPPLIER_1, chorus_settings, saisie_invoice

API = "http://piste.test"


class FakePiste:
    """A token endpoint plus a `/cpro` handler the test chooses; records every request."""

    def __init__(self, cpro: Callable[[httpx.Request], httpx.Response]) -> None:
        self.cpro = cpro
        self.tokens_issued = 0
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/api/oauth/token":
            self.tokens_issued += 1
            body = {"access_token": f"tok-{self.tokens_issued}", "expires_in": 3600}
            return httpx.Response(200, json=body)
        return self.cpro(request)

    @property
    def cpro_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.startswith("/cpro/")]


def client_for(piste: FakePiste, **settings: object) -> ChorusClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(piste))
    return ChorusClient(chorus_settings(api_url=API, **settings), http)  # type: ignore[arg-type]


async def test_a_2xx_without_the_chorus_invoice_id_is_ambiguous() -> None:
    piste = FakePiste(lambda r: httpx.Response(200, json={"codeRetour": 0, "libelle": "OK"}))
    async with client_for(piste) as client:
        with pytest.raises(ChorusAmbiguous, match="identifiantFactureCPP"):
            await client.submit_invoice(SUPPLIER_1, saisie_invoice(1))


async def test_every_call_carries_bearer_account_json_and_request_id() -> None:
    piste = FakePiste(
        lambda r: httpx.Response(200, json={"codeRetour": 0, "identifiantFactureCPP": 7})
    )
    token = request_id_var.set("req-abc-123")
    try:
        async with client_for(piste) as client:
            await client.submit_invoice(SUPPLIER_1, saisie_invoice(1))
    finally:
        request_id_var.reset(token)
    (sent,) = piste.cpro_requests
    assert sent.method == "POST"
    assert sent.url == f"{API}/cpro/factures/v1/soumettre"
    assert sent.headers["Authorization"] == "Bearer tok-1"
    assert sent.headers["cpro-account"] == SUPPLIER_1.cpro_account
    assert sent.headers["Content-Type"] == "application/json;charset=utf-8"
    assert sent.headers["X-Request-ID"] == "req-abc-123"
    assert json.loads(sent.content)["fournisseur"] == {"idFournisseur": 1}
    token_request = piste.requests[0]
    assert token_request.headers["X-Request-ID"] == "req-abc-123"


async def test_the_retry_after_a_refresh_keeps_the_same_request_id() -> None:
    answers = iter([httpx.Response(401), httpx.Response(200, json={"codeRetour": 0})])
    piste = FakePiste(lambda r: next(answers))
    async with client_for(piste) as client:
        await client.active_supplier_structures(SUPPLIER_1)
    first, second = piste.cpro_requests
    assert first.headers["X-Request-ID"] == second.headers["X-Request-ID"]
    assert (first.headers["Authorization"], second.headers["Authorization"]) == (
        "Bearer tok-1",
        "Bearer tok-2",
    )


async def test_a_persistent_403_is_an_auth_error_after_the_retries_each_with_a_new_token() -> None:
    piste = FakePiste(lambda r: httpx.Response(403))
    async with client_for(piste) as client:
        with pytest.raises(ChorusAuthError) as caught:
            await client.consult_structure(SUPPLIER_1, 26000101)
    retries = client.settings.auth_retries
    assert len(piste.cpro_requests) == 1 + retries
    assert piste.tokens_issued == 1 + retries
    assert len({r.headers["Authorization"] for r in piste.cpro_requests}) == 1 + retries
    assert caught.value.status_code == 403


async def test_a_refusal_is_not_retried() -> None:
    piste = FakePiste(lambda r: httpx.Response(400, json={"codeRetour": 20301, "libelle": "x"}))
    async with client_for(piste) as client:
        with pytest.raises(ChorusRefusal):
            await client.submit_invoice(SUPPLIER_1, saisie_invoice(1))
    assert len(piste.cpro_requests) == 1


async def test_a_503_is_not_sent_with_its_retry_after() -> None:
    piste = FakePiste(lambda r: httpx.Response(503, headers={"Retry-After": "17"}))
    async with client_for(piste) as client:
        with pytest.raises(ChorusNotSent) as caught:
            await client.submit_invoice(SUPPLIER_1, saisie_invoice(1))
    assert caught.value.retry_after == 17.0


async def test_a_read_answer_missing_its_required_fields_is_reported_without_values() -> None:
    piste = FakePiste(
        lambda r: httpx.Response(200, json={"codeRetour": 0, "pieceJointeId": "secret-ish"})
    )
    async with client_for(piste) as client:
        with pytest.raises(ChorusAmbiguous) as caught:
            await client.upload_attachment(SUPPLIER_1, "a.pdf", "application/pdf", b"%PDF")
    assert "pieceJointeId" in str(caught.value)
    assert "secret-ish" not in str(caught.value)


async def test_pages_stop_when_chorus_omits_parametres_retour() -> None:
    def one_page(request: httpx.Request) -> httpx.Response:
        structures = [{"idStructureCPP": 1, "identifiantStructure": "41234567010000"}]
        return httpx.Response(200, json={"codeRetour": 0, "listeStructures": structures})

    piste = FakePiste(one_page)
    async with client_for(piste) as client:
        found = await client.search_structures(SUPPLIER_1, "41234567010000", page_size=1)
    assert [s.idStructureCPP for s in found] == [1]
    assert len(piste.cpro_requests) == 1


async def test_a_health_check_accepts_any_2xx_body() -> None:
    piste = FakePiste(lambda r: httpx.Response(200, text="OK"))
    async with client_for(piste) as client:
        assert await client.health_check() == {}
    (sent,) = piste.cpro_requests
    assert sent.method == "GET"
    assert "cpro-account" not in sent.headers
    assert "Content-Type" not in sent.headers


async def test_a_client_closes_only_the_http_client_it_created() -> None:
    piste = FakePiste(lambda r: httpx.Response(200))
    http = httpx.AsyncClient(transport=httpx.MockTransport(piste))
    async with ChorusClient(chorus_settings(api_url=API), http):
        pass
    assert not http.is_closed
    await http.aclose()
    own = ChorusClient(chorus_settings(api_url=API))
    await own.aclose()
    assert own._http.is_closed
