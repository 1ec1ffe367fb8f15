"""The members page (rattachement) in the console: a principal manages its own structure only,
operators any; every action goes through the members services, with the session's CSRF token."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.builders import OTHER_SUPPLIER_SIRET, SUPPLIER_SIRET, invoice_payload
from tests.console.conftest import SignIn, csrf_of, key_of, sign_in_with
from tests.structures.members_support import Client, error_codes, new_client

pytestmark = pytest.mark.usefixtures("registered_suppliers")

S = SUPPLIER_SIRET
PAGE = f"/console/structures/{S}/membres"
_NEW_KEY = re.compile(r'data-testid="new-key">([^<]+)<')


@pytest.fixture
async def principal(http: httpx.AsyncClient, operator: dict[str, str]) -> Client:
    """The first client the operator attached to S: its principal."""
    client = await new_client(http, operator)
    attached = await http.put(f"/v1/structures/{S}/members/{client.id}", json={}, headers=operator)
    assert attached.json()["role"] == "principal", attached.text
    return client


async def _signed_in(http: httpx.AsyncClient, auth: dict[str, str]) -> str:
    """Sign in with that client's key; the session's CSRF token."""
    answer = await sign_in_with(http, key_of(auth))
    assert answer.status_code == 303, answer.text
    page = await http.get("/console")
    assert page.status_code == 200
    return csrf_of(page.text)


async def _requester(http: httpx.AsyncClient, operator: dict[str, str], note: str) -> Client:
    scopes = ("invoices:write", "invoices:read", "structures:request")
    client = await new_client(http, operator, *scopes)
    asked = await http.post(
        f"/v1/structures/{S}/requests", json={"note": note}, headers=client.auth
    )
    assert asked.status_code == 201, asked.text
    return client


async def _may_invoice(http: httpx.AsyncClient, client: Client) -> bool:
    answer = await http.post("/v1/invoices", json=invoice_payload(), headers=client.auth)
    if answer.status_code == 422:
        assert "SUPPLIER_NOT_ALLOWED" in error_codes(answer)
    return answer.status_code == 201


async def test_a_principal_approves_refuses_and_detaches_from_its_page(
    http: httpx.AsyncClient, operator: dict[str, str], principal: Client
) -> None:
    firm = await _requester(http, operator, "Cabinet Durand")
    other = await _requester(http, operator, "Inconnu")
    assert not await _may_invoice(http, firm)
    csrf = await _signed_in(http, principal.auth)

    home = await http.get("/console")
    assert f'href="{PAGE}"' in home.text  # its nav link
    page = await http.get(PAGE)
    assert page.status_code == 200
    assert "Gestionnaire principal" in page.text
    assert f'id="membre-{principal.id}"' in page.text
    assert f'id="demande-{firm.id}"' in page.text
    assert "Cabinet Durand" in page.text

    approved = await http.post(
        f"{PAGE}/demandes/{firm.id}/approuver", data={"csrf": csrf}, follow_redirects=False
    )
    assert approved.status_code == 200, approved.text
    assert "approuvée" in approved.text
    assert f'id="membre-{firm.id}"' in approved.text
    assert f'id="demande-{firm.id}"' not in approved.text
    assert await _may_invoice(http, firm)  # no stale right in the auth cache

    refused = await http.post(f"{PAGE}/demandes/{other.id}/refuser", data={"csrf": csrf})
    assert refused.status_code == 200
    assert "refusée" in refused.text
    assert f'id="demande-{other.id}"' not in refused.text
    assert not await _may_invoice(http, other)

    detached = await http.post(f"{PAGE}/{firm.id}/detacher", data={"csrf": csrf})
    assert detached.status_code == 200
    assert "détaché" in detached.text
    assert f'id="membre-{firm.id}"' not in detached.text
    assert not await _may_invoice(http, firm)

    # The audit list, latest first, agrees with the API's (oldest first).
    journal = detached.text[detached.text.index("<h2>Journal</h2>") :]
    shown = [journal.index(label) for label in ("Membre détaché", "Demande refusée")]
    assert shown == sorted(shown)
    api = (await http.get(f"/v1/structures/{S}/audit", headers=principal.auth)).json()
    assert api["items"][-1]["action"] == "structure.member_detached"
    assert api["items"][-1]["actor"]["client_id"] == principal.id


async def test_a_principal_issues_a_member_key_shown_once_that_invoices(
    http: httpx.AsyncClient, principal: Client
) -> None:
    csrf = await _signed_in(http, principal.auth)
    made = await http.post(
        f"{PAGE}/cle",
        data={"csrf": csrf, "name": "caisse", "scopes": ["invoices:write", "invoices:read"]},
    )
    assert made.status_code == 200, made.text
    match = _NEW_KEY.search(made.text)
    assert match
    key = match.group(1)
    assert key not in (await http.get(PAGE)).text
    member = Client("", {"Authorization": f"Bearer {key}"})
    assert await _may_invoice(http, member)

    operator_only = await http.post(
        f"{PAGE}/cle", data={"csrf": csrf, "name": "trop", "scopes": ["operator"]}
    )
    assert operator_only.status_code == 422
    assert "Refusé" in operator_only.text


async def test_the_principal_cannot_be_detached_while_members_remain(
    http: httpx.AsyncClient, operator: dict[str, str], principal: Client
) -> None:
    firm = await new_client(http, operator)
    await http.put(f"/v1/structures/{S}/members/{firm.id}", json={}, headers=operator)
    csrf = await _signed_in(http, principal.auth)
    answer = await http.post(f"{PAGE}/{principal.id}/detacher", data={"csrf": csrf})
    assert answer.status_code == 409
    assert "PRINCIPAL_REQUIRED" in answer.text
    assert f'id="membre-{principal.id}"' in answer.text


async def test_a_principal_of_one_structure_finds_nothing_of_another(
    http: httpx.AsyncClient, principal: Client
) -> None:
    csrf = await _signed_in(http, principal.auth)
    other = f"/console/structures/{OTHER_SUPPLIER_SIRET}/membres"
    assert (await http.get(other)).status_code == 404
    assert (await http.get("/console/structures/123/membres")).status_code == 404
    for action in (
        f"{other}/demandes/{principal.id}/approuver",
        f"{other}/demandes/{principal.id}/refuser",
        f"{other}/{principal.id}/detacher",
        f"{other}/cle",
    ):
        answer = await http.post(action, data={"csrf": csrf, "name": "x"})
        assert answer.status_code == 404, action
        assert "Structure introuvable" in answer.text
    assert f'href="{other}"' not in (await http.get("/console")).text


async def test_a_plain_client_key_gets_404_for_pages_and_403_for_actions(
    http: httpx.AsyncClient, sign_in: SignIn, principal: Client
) -> None:
    csrf = await sign_in(operator=False, suppliers=(S,))
    assert (await http.get(PAGE)).status_code == 404
    assert "/membres" not in (await http.get("/console")).text
    answer = await http.post(f"{PAGE}/{principal.id}/detacher", data={"csrf": csrf})
    assert answer.status_code == 403
    members = await http.get(f"/v1/structures/{S}/members", headers=principal.auth)
    assert [m["client_id"] for m in members.json()] == [principal.id]


async def test_an_action_without_the_csrf_token_is_refused(
    http: httpx.AsyncClient, operator: dict[str, str], principal: Client
) -> None:
    firm = await _requester(http, operator, "sans jeton")
    await _signed_in(http, principal.auth)
    answer = await http.post(f"{PAGE}/demandes/{firm.id}/approuver", data={})
    assert answer.status_code == 403
    assert "CSRF" in answer.text
    forged = await http.post(f"{PAGE}/demandes/{firm.id}/approuver", data={"csrf": "forged"})
    assert forged.status_code == 403
    assert not await _may_invoice(http, firm)


async def test_without_a_session_the_page_leads_to_the_sign_in_page(
    http: httpx.AsyncClient,
) -> None:
    answer = await http.get(PAGE)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/connexion?next=/console")


async def test_an_operator_manages_any_structure_from_the_structures_page(
    http: httpx.AsyncClient, sign_in: SignIn, operator: dict[str, str], principal: Client
) -> None:
    firm = await _requester(http, operator, "par l'opérateur")
    csrf = await sign_in()
    listing = await http.get("/console/structures")
    assert f'href="{PAGE}"' in listing.text
    assert f'href="/console/structures/{OTHER_SUPPLIER_SIRET}/membres"' in listing.text
    empty = await http.get(f"/console/structures/{OTHER_SUPPLIER_SIRET}/membres")
    assert empty.status_code == 200
    assert "Aucun membre rattaché" in empty.text
    assert (await http.get("/console/structures/73282932000074/membres")).status_code == 404

    approved = await http.post(f"{PAGE}/demandes/{firm.id}/approuver", data={"csrf": csrf})
    assert approved.status_code == 200
    assert await _may_invoice(http, firm)
    audit = (await http.get(f"/v1/structures/{S}/audit", headers=operator)).json()["items"]
    assert audit[-1]["action"] == "structure.member_attached"
    assert audit[-1]["actor"]["client_id"] != principal.id
