"""Structure members (rattachement): the first attached leads, requests wait for the principal,
only approved members invoice, and every change is audited and published."""

from __future__ import annotations

import httpx
import pytest

from tests.builders import OTHER_SUPPLIER_SIRET, SUPPLIER_SIRET, invoice_payload
from tests.structures.members_support import (
    Client,
    error_codes,
    new_client,
    other_supplier_invoice,
)

pytestmark = pytest.mark.usefixtures("registered_suppliers")

S = SUPPLIER_SIRET


@pytest.fixture
async def principal(http: httpx.AsyncClient, operator: dict[str, str]) -> Client:
    """A client the operator attached first: the structure's principal."""
    client = await new_client(http, operator)
    attached = await http.put(f"/v1/structures/{S}/members/{client.id}", json={}, headers=operator)
    assert attached.status_code == 200, attached.text
    assert attached.json()["role"] == "principal"
    return client


async def test_the_seed_story_request_approve_invoice_detach(
    http: httpx.AsyncClient, operator: dict[str, str], principal: Client
) -> None:
    firm = await new_client(http, operator, "invoices:write", "invoices:read", "structures:request")
    asked = await http.post(
        f"/v1/structures/{S}/requests", json={"note": "Cabinet Durand"}, headers=firm.auth
    )
    assert asked.status_code == 201, asked.text
    assert (asked.json()["state"], asked.json()["role"]) == ("pending", "member")
    again = await http.post(f"/v1/structures/{S}/requests", headers=firm.auth)
    assert (again.status_code, again.json()["state"]) == (200, "pending")

    pending = await http.post("/v1/invoices", json=invoice_payload(), headers=firm.auth)
    assert pending.status_code == 422
    assert "SUPPLIER_NOT_ALLOWED" in error_codes(pending)

    requests = (await http.get(f"/v1/structures/{S}/requests", headers=principal.auth)).json()
    assert [(r["client_id"], r["note"]) for r in requests] == [(firm.id, "Cabinet Durand")]
    approved = await http.post(
        f"/v1/structures/{S}/requests/{firm.id}/approve", headers=principal.auth
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["state"], approved.json()["role"]) == ("approved", "member")

    # The firm's key was remembered without the right a moment ago: no stale cache now.
    created = await http.post("/v1/invoices", json=invoice_payload(), headers=firm.auth)
    assert created.status_code == 201, created.text
    invoice_id = created.json()["id"]
    assert (await http.get(f"/v1/invoices/{invoice_id}", headers=principal.auth)).status_code == 200

    members = (await http.get(f"/v1/structures/{S}/members", headers=principal.auth)).json()
    assert [(m["client_id"], m["role"]) for m in members] == [
        (principal.id, "principal"),
        (firm.id, "member"),
    ]

    detached = await http.delete(f"/v1/structures/{S}/members/{firm.id}", headers=principal.auth)
    assert detached.status_code == 204, detached.text
    refused = await http.post("/v1/invoices", json=invoice_payload(), headers=firm.auth)
    assert refused.status_code == 422
    assert "SUPPLIER_NOT_ALLOWED" in error_codes(refused)
    assert (await http.get(f"/v1/invoices/{invoice_id}", headers=firm.auth)).status_code == 404

    audit = (await http.get(f"/v1/structures/{S}/audit", headers=principal.auth)).json()
    assert [(e["action"], e["client_id"]) for e in audit["items"]] == [
        ("structure.member_attached", principal.id),
        ("structure.principal_changed", principal.id),
        ("structure.attachment_requested", firm.id),
        ("structure.member_attached", firm.id),
        ("structure.member_detached", firm.id),
    ]
    assert audit["items"][3]["actor"]["client_id"] == principal.id
    assert audit["items"][0]["actor"]["client_id"] is not None  # the operator's key
    assert (
        await http.get(f"/v1/structures/{S}/audit?after={audit['next_after']}", headers=operator)
    ).json()["items"] == []

    feed = (await http.get("/v1/events?after=0", headers=principal.auth)).json()["items"]
    structure_events = [e for e in feed if e["type"].startswith("structure.")]
    assert [e["type"] for e in structure_events] == [e["action"] for e in audit["items"]]
    assert structure_events[-1]["data"]["structure"] == {"siret": S}
    assert structure_events[-1]["data"]["invoice"] is None


async def test_the_first_client_approved_by_an_operator_becomes_principal(
    http: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    first = await new_client(http, operator, "invoices:read", "structures:request")
    second = await new_client(http, operator, "invoices:read", "structures:request")
    for client in (first, second):
        asked = await http.post(f"/v1/structures/{S}/requests", headers=client.auth)
        assert asked.status_code == 201
    # No principal yet: nobody but an operator can decide.
    nobody = await http.post(f"/v1/structures/{S}/requests/{second.id}/approve", headers=first.auth)
    assert nobody.status_code == 404
    approve = f"/v1/structures/{S}/requests/{first.id}/approve"
    assert (await http.post(approve, headers=operator)).json()["role"] == "principal"
    by_principal = await http.post(
        f"/v1/structures/{S}/requests/{second.id}/approve", headers=first.auth
    )
    assert by_principal.json()["role"] == "member"


async def test_a_refused_request_gives_nothing_and_may_be_filed_again(
    http: httpx.AsyncClient, operator: dict[str, str], principal: Client
) -> None:
    firm = await new_client(http, operator, "invoices:write", "structures:request")
    await http.post(f"/v1/structures/{S}/requests", headers=firm.auth)
    refused = await http.post(
        f"/v1/structures/{S}/requests/{firm.id}/refuse", headers=principal.auth
    )
    assert (refused.status_code, refused.json()["state"]) == (200, "refused")
    posted = await http.post("/v1/invoices", json=invoice_payload(), headers=firm.auth)
    assert "SUPPLIER_NOT_ALLOWED" in error_codes(posted)
    assert (await http.get(f"/v1/structures/{S}/requests", headers=principal.auth)).json() == []
    listed = await http.get(f"/v1/structures/{S}/requests?state=refused", headers=principal.auth)
    assert [r["client_id"] for r in listed.json()] == [firm.id]
    again = await http.post(f"/v1/structures/{S}/requests", headers=firm.auth)
    assert (again.status_code, again.json()["state"]) == (201, "pending")
    # Approving twice, or a request that is no longer pending, finds nothing to approve.
    await http.post(f"/v1/structures/{S}/requests/{firm.id}/approve", headers=principal.auth)
    twice = await http.post(
        f"/v1/structures/{S}/requests/{firm.id}/approve", headers=principal.auth
    )
    assert twice.status_code == 404
    member = await http.post(f"/v1/structures/{S}/requests", headers=firm.auth)
    assert (member.status_code, member.json()["code"]) == (409, "ALREADY_MEMBER")


async def test_asking_needs_the_structures_request_scope(
    http: httpx.AsyncClient, operator: dict[str, str], principal: Client
) -> None:
    plain = await new_client(http, operator)
    assert (await http.post(f"/v1/structures/{S}/requests", headers=plain.auth)).status_code == 404
    # Its own structure: the principal is told what it lacks.
    own = await http.post(f"/v1/structures/{S}/requests", headers=principal.auth)
    assert own.status_code == 403
    unknown = await new_client(http, operator, "structures:request")
    assert (
        await http.post("/v1/structures/11000201100044/requests", headers=unknown.auth)
    ).status_code == 404


async def test_a_principal_creates_rotates_and_revokes_member_keys(
    http: httpx.AsyncClient, principal: Client
) -> None:
    created = await http.post(
        f"/v1/structures/{S}/members", json={"name": "compta"}, headers=principal.auth
    )
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    body = created.json()
    assert (body["name"], body["role"], body["key_issued"]) == (f"{S}/compta", "member", True)
    assert sorted(body["scopes"]) == ["invoices:read", "invoices:write"]
    member = {"Authorization": f"Bearer {body['key']}"}
    assert (
        await http.post("/v1/invoices", json=invoice_payload(), headers=member)
    ).status_code == 201

    rotated = await http.post(
        f"/v1/structures/{S}/members/{body['client_id']}/rotate", headers=principal.auth
    )
    assert rotated.status_code == 200, rotated.text
    assert (await http.get("/v1/invoices", headers=member)).status_code == 401
    member = {"Authorization": f"Bearer {rotated.json()['key']}"}
    assert (await http.get("/v1/invoices", headers=member)).status_code == 200

    revoked = await http.post(
        f"/v1/structures/{S}/members/{body['client_id']}/revoke", headers=principal.auth
    )
    assert revoked.status_code == 204
    assert (await http.get("/v1/invoices", headers=member)).status_code == 401
    members = (await http.get(f"/v1/structures/{S}/members", headers=principal.auth)).json()
    assert [m["client_id"] for m in members] == [principal.id]


async def test_member_keys_never_get_more_than_invoicing(
    http: httpx.AsyncClient, principal: Client
) -> None:
    for scopes in (["operator"], ["structures:request"], []):
        refused = await http.post(
            f"/v1/structures/{S}/members",
            json={"name": "x", "scopes": scopes},
            headers=principal.auth,
        )
        assert refused.status_code == 422, scopes


async def test_a_principal_cannot_touch_keys_an_operator_issued(
    http: httpx.AsyncClient, operator: dict[str, str], principal: Client
) -> None:
    erp = await new_client(http, operator, "invoices:write", suppliers=(OTHER_SUPPLIER_SIRET,))
    await http.put(f"/v1/structures/{S}/members/{erp.id}", json={}, headers=operator)
    for verb in ("rotate", "revoke"):
        answer = await http.post(
            f"/v1/structures/{S}/members/{erp.id}/{verb}", headers=principal.auth
        )
        assert (answer.status_code, answer.json()["code"]) == (409, "KEY_NOT_ISSUED"), verb
    # Its key still works for the structure it serves elsewhere.
    assert (
        await http.post("/v1/invoices", json=invoice_payload(), headers=erp.auth)
    ).status_code == 201


async def test_the_principal_role_passes_on_and_a_structure_keeps_one(
    http: httpx.AsyncClient, operator: dict[str, str], principal: Client
) -> None:
    other = await new_client(http, operator)
    await http.put(f"/v1/structures/{S}/members/{other.id}", json={}, headers=operator)
    leave = await http.delete(f"/v1/structures/{S}/members/{principal.id}", headers=principal.auth)
    assert (leave.status_code, leave.json()["code"]) == (409, "PRINCIPAL_REQUIRED")
    passed = await http.put(
        f"/v1/structures/{S}/principal", json={"client_id": other.id}, headers=principal.auth
    )
    assert (passed.status_code, passed.json()["role"]) == (200, "principal")
    # The former principal is a member now: it manages nothing, at once.
    assert (
        await http.get(f"/v1/structures/{S}/members", headers=principal.auth)
    ).status_code == 404
    members = (await http.get(f"/v1/structures/{S}/members", headers=other.auth)).json()
    assert [(m["client_id"], m["role"]) for m in members] == [
        (other.id, "principal"),
        (principal.id, "member"),
    ]
    assert (
        await http.delete(f"/v1/structures/{S}/members/{principal.id}", headers=other.auth)
    ).status_code == 204
    # Alone, the principal may leave: the structure has no members left.
    assert (
        await http.delete(f"/v1/structures/{S}/members/{other.id}", headers=other.auth)
    ).status_code == 204
    assert (await http.get(f"/v1/structures/{S}/members", headers=operator)).json() == []


async def test_an_operator_names_the_principal_and_a_member_asked_for_stays_principal(
    http: httpx.AsyncClient, operator: dict[str, str], principal: Client
) -> None:
    other = await new_client(http, operator)
    named = await http.put(
        f"/v1/structures/{S}/members/{other.id}", json={"role": "principal"}, headers=operator
    )
    assert named.json()["role"] == "principal"
    kept = await http.put(
        f"/v1/structures/{S}/members/{other.id}", json={"role": "member"}, headers=operator
    )
    assert kept.json()["role"] == "principal"
    members = (await http.get(f"/v1/structures/{S}/members", headers=operator)).json()
    assert [m["role"] for m in members] == ["principal", "member"]


async def test_a_principal_rotates_its_password_and_reads_its_structure(
    http: httpx.AsyncClient, principal: Client
) -> None:
    rotated = await http.put(
        f"/v1/structures/{S}/password", json={"password": "n3w-secret"}, headers=principal.auth
    )
    assert rotated.status_code == 200, rotated.text
    assert "n3w-secret" not in rotated.text
    read = await http.get(f"/v1/structures/{S}", headers=principal.auth)
    assert (read.status_code, read.json()["siret"]) == (200, S)
    # Operator-only settings: the principal is told (403), never given operator scope.
    patched = await http.patch(f"/v1/structures/{S}", json={}, headers=principal.auth)
    assert patched.status_code == 403
    assert (await http.get("/v1/structures", headers=principal.auth)).status_code == 403
    audit = (await http.get(f"/v1/structures/{S}/audit", headers=principal.auth)).json()["items"]
    assert audit[-1]["action"] == "structure.password_rotated"
    assert "n3w-secret" not in str(audit)


async def test_operator_granted_suppliers_count_as_before_beside_memberships(
    http: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    erp = await new_client(
        http, operator, "invoices:write", "structures:request", suppliers=(SUPPLIER_SIRET,)
    )
    await http.post(f"/v1/structures/{OTHER_SUPPLIER_SIRET}/requests", headers=erp.auth)
    other = other_supplier_invoice()
    assert (
        await http.post("/v1/invoices", json=invoice_payload(), headers=erp.auth)
    ).status_code == 201
    assert "SUPPLIER_NOT_ALLOWED" in error_codes(
        await http.post("/v1/invoices", json=other, headers=erp.auth)
    )
    approve = f"/v1/structures/{OTHER_SUPPLIER_SIRET}/requests/{erp.id}/approve"
    assert (await http.post(approve, headers=operator)).status_code == 200
    assert (await http.post("/v1/invoices", json=other, headers=erp.auth)).status_code == 201
    detach = f"/v1/structures/{OTHER_SUPPLIER_SIRET}/members/{erp.id}"
    assert (await http.delete(detach, headers=operator)).status_code == 204
    assert "SUPPLIER_NOT_ALLOWED" in error_codes(
        await http.post("/v1/invoices", json=other_supplier_invoice(), headers=erp.auth)
    )
    assert (
        await http.post("/v1/invoices", json=invoice_payload(), headers=erp.auth)
    ).status_code == 201
