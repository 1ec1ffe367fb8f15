"""Who may see and do what in the console: sessions, client keys, CSRF."""

from __future__ import annotations

import httpx
import pytest

from app.auth.scopes import Scope
from app.console.session import SESSION_COOKIE
from tests.builders import OTHER_SUPPLIER_SIRET, SUPPLIER_SIRET
from tests.conftest import KeyFactory
from tests.console.conftest import SignIn, key_of, sign_in_with

PAGES = [
    "/console",
    "/console/fragments/tableau-de-bord",
    "/console/factures",
    "/console/factures/inv_01JD0000000000000000000000",
    "/console/structures",
    "/console/clients",
    "/console/webhooks",
]
OPERATOR_PAGES = ["/console/structures", "/console/clients", "/console/webhooks"]
ACTIONS = [
    "/console/factures/inv_01JD0000000000000000000000/relancer",
    "/console/structures",
    "/console/structures/41234567010000/mot-de-passe",
    "/console/structures/41234567010000/reprendre",
    "/console/clients",
    "/console/clients/cli_x/revoquer",
    "/console/clients/cli_x/renouveler",
    "/console/webhooks",
    "/console/webhooks/whk_x/supprimer",
    "/console/webhooks/whk_x/tester",
    "/console/deconnexion",
]


@pytest.mark.parametrize("path", PAGES)
async def test_without_a_session_every_page_leads_to_the_sign_in_page(
    http: httpx.AsyncClient, path: str
) -> None:
    response = await http.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/connexion?next=/console")


@pytest.mark.parametrize("path", ACTIONS)
async def test_without_a_session_no_action_runs(http: httpx.AsyncClient, path: str) -> None:
    response = await http.post(path, data={"csrf": "x"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/connexion")


async def test_htmx_refreshes_without_a_session_redirect_the_whole_page(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/console/fragments/tableau-de-bord", headers={"HX-Request": "true"})
    assert response.headers["HX-Redirect"].startswith("/console/connexion")


async def test_the_sign_in_page_is_french_and_sets_a_strict_http_only_cookie(
    http: httpx.AsyncClient, make_key: KeyFactory
) -> None:
    page = await http.get("/console/connexion")
    assert page.status_code == 200
    assert "Clé d'API" in page.text
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    answer = await sign_in_with(http, key_of(await make_key()))
    assert answer.status_code == 303
    cookie = next(
        value
        for name, value in answer.headers.multi_items()
        if name == "set-cookie" and value.startswith(SESSION_COOKIE + "=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Max-Age=28800" in cookie
    assert key_of(await make_key()) not in cookie


async def test_a_wrong_key_is_refused_and_never_echoed(http: httpx.AsyncClient) -> None:
    answer = await sign_in_with(http, "cpg_not-a-real-key")
    assert answer.status_code == 401
    assert "Clé inconnue" in answer.text
    assert "cpg_not-a-real-key" not in answer.text
    assert (await http.get("/console")).status_code == 303


async def test_the_sign_in_form_needs_its_own_token(
    http: httpx.AsyncClient, make_key: KeyFactory
) -> None:
    answer = await http.post(
        "/console/connexion", data={"api_key": key_of(await make_key()), "login_token": "forged"}
    )
    assert answer.status_code == 403
    assert (await http.get("/console")).status_code == 303


async def test_a_tampered_cookie_is_no_session(http: httpx.AsyncClient, sign_in: SignIn) -> None:
    await sign_in()
    cookie = http.cookies.get(SESSION_COOKIE)
    assert cookie
    http.cookies.clear()
    http.cookies.set(SESSION_COOKIE, cookie[:-2] + "xx", domain="gateway.test", path="/console")
    assert (await http.get("/console")).status_code == 303


async def test_sign_out_ends_the_session(http: httpx.AsyncClient, sign_in: SignIn) -> None:
    csrf = await sign_in()
    answer = await http.post("/console/deconnexion", data={"csrf": csrf})
    assert answer.status_code == 303
    assert (await http.get("/console")).status_code == 303


async def test_sign_out_without_the_csrf_token_is_refused(
    http: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in()
    assert (await http.post("/console/deconnexion")).status_code == 403
    assert (await http.get("/console")).status_code == 200


@pytest.mark.parametrize("path", ACTIONS[:-1])
async def test_operator_actions_without_the_csrf_token_are_403(
    http: httpx.AsyncClient, sign_in: SignIn, path: str
) -> None:
    await sign_in()
    response = await http.post(path, data={"csrf": "wrong"})
    assert response.status_code == 403
    assert "CSRF" in response.text


@pytest.mark.parametrize("path", OPERATOR_PAGES)
async def test_a_client_key_sees_no_operator_page(
    http: httpx.AsyncClient, sign_in: SignIn, path: str
) -> None:
    await sign_in(operator=False, suppliers=(SUPPLIER_SIRET,))
    response = await http.get(path)
    assert response.status_code == 403
    assert "réservée aux clés opérateur" in response.text


@pytest.mark.parametrize("path", ACTIONS[:-1])
async def test_a_client_key_cannot_act_even_with_its_token(
    http: httpx.AsyncClient, sign_in: SignIn, path: str
) -> None:
    csrf = await sign_in(operator=False, suppliers=(SUPPLIER_SIRET,))
    response = await http.post(path, data={"csrf": csrf})
    assert response.status_code == 403


async def test_a_client_key_menu_has_no_operator_section(
    http: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(operator=False, suppliers=(OTHER_SUPPLIER_SIRET,))
    page = (await http.get("/console")).text
    assert "lecture seule" in page
    assert "/console/structures" not in page
    assert "File d'envoi" not in page


async def test_a_revoked_key_ends_its_console_sessions(
    http: httpx.AsyncClient, make_key: KeyFactory
) -> None:
    await sign_in_with(http, key_of(await make_key(name="soon-revoked")))
    assert (await http.get("/console")).status_code == 200
    operator = await make_key(scopes=(Scope.OPERATOR,))
    listing = (await http.get("/v1/clients", headers=operator)).json()
    client_id = next(c["id"] for c in listing if c["name"] == "soon-revoked")
    assert (await http.delete(f"/v1/clients/{client_id}", headers=operator)).status_code == 204
    assert (await http.get("/console")).status_code == 303


async def test_a_rotated_key_ends_its_console_sessions(
    http: httpx.AsyncClient, make_key: KeyFactory
) -> None:
    await sign_in_with(http, key_of(await make_key(name="soon-rotated")))
    operator = await make_key(scopes=(Scope.OPERATOR,))
    listing = (await http.get("/v1/clients", headers=operator)).json()
    client_id = next(c["id"] for c in listing if c["name"] == "soon-rotated")
    assert (await http.post(f"/v1/clients/{client_id}/rotate", headers=operator)).is_success
    assert (await http.get("/console")).status_code == 303


async def test_a_key_that_cannot_read_cannot_sign_in(
    http: httpx.AsyncClient, make_key: KeyFactory
) -> None:
    answer = await sign_in_with(http, key_of(await make_key(scopes=(Scope.INVOICES_WRITE,))))
    assert answer.status_code == 403
    assert (await http.get("/console")).status_code == 303


async def test_the_key_appears_in_no_log_line_nor_url(
    http: httpx.AsyncClient, make_key: KeyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    key = key_of(await make_key(scopes=(Scope.OPERATOR,)))
    answer = await sign_in_with(http, key)
    assert key not in answer.headers["location"]
    for path in ("/console", "/console/factures", "/console/clients"):
        page = await http.get(path)
        assert page.status_code == 200
        assert key not in page.text
    assert "/console/connexion" in caplog.text
    assert key not in caplog.text
