"""The console's pages and actions, on both databases, through the ASGI app."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.models import ApiClient
from app.auth.scopes import Scope
from app.events.models import Event, WebhookSubscription
from app.invoices.models import Invoice
from app.outbox.models import OutboxItem
from app.structures.models import SupplierStructure
from tests.builders import OTHER_SUPPLIER_SIRET, SUPPLIER_SIRET, invoice_payload
from tests.conftest import KeyFactory
from tests.console.conftest import SignIn

NEW_SIRET = "73282932000074"


async def _post_invoice(
    http: httpx.AsyncClient, make_key: KeyFactory, supplier: str = SUPPLIER_SIRET, **fields: object
) -> str:
    headers = await make_key(suppliers=(supplier,))
    payload = invoice_payload(**fields)
    payload["supplier"]["siret"] = supplier
    response = await http.post("/v1/invoices", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_the_dashboard_counts_invoices_and_draws_the_chart(
    http: httpx.AsyncClient, sign_in: SignIn, make_key: KeyFactory, registered_suppliers: None
) -> None:
    await _post_invoice(http, make_key)
    await sign_in()
    page = await http.get("/console")
    assert page.status_code == 200
    assert "Tableau de bord" in page.text
    assert '<svg class="chart"' in page.text
    assert "1 acceptées" in page.text
    assert "1 en attente" in page.text  # the delivery in the outbox
    assert "Aucun worker vu" in page.text
    fragment = await http.get("/console/fragments/tableau-de-bord", headers={"HX-Request": "1"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text


async def test_the_invoice_list_filters_and_pages(
    http: httpx.AsyncClient, sign_in: SignIn, make_key: KeyFactory, registered_suppliers: None
) -> None:
    first = await _post_invoice(http, make_key, invoice_number="F-LIST-1")
    await _post_invoice(http, make_key, invoice_number="F-LIST-2")
    await _post_invoice(http, make_key, OTHER_SUPPLIER_SIRET, invoice_number="F-OTHER-1")
    await sign_in()
    page = (await http.get("/console/factures")).text
    assert page.index("F-OTHER-1") < page.index("F-LIST-2") < page.index("F-LIST-1")
    only = (await http.get("/console/factures", params={"numero": "F-LIST-1"})).text
    assert first in only
    assert "F-LIST-2" not in only
    by_supplier = await http.get("/console/factures", params={"fournisseur": OTHER_SUPPLIER_SIRET})
    assert "F-OTHER-1" in by_supplier.text
    assert "F-LIST-1" not in by_supplier.text
    none = await http.get("/console/factures", params={"statut": "paid", "du": "2001-01-01"})
    assert "Aucune facture ne correspond" in none.text
    rows = await http.get("/console/factures", headers={"HX-Request": "true"})
    assert "<html" not in rows.text
    assert "F-LIST-1" in rows.text


async def test_a_client_key_sees_only_its_suppliers_invoices(
    http: httpx.AsyncClient, sign_in: SignIn, make_key: KeyFactory, registered_suppliers: None
) -> None:
    mine = await _post_invoice(http, make_key, invoice_number="F-MINE")
    theirs = await _post_invoice(http, make_key, OTHER_SUPPLIER_SIRET, invoice_number="F-THEIRS")
    await sign_in(operator=False, suppliers=(SUPPLIER_SIRET,))
    page = (await http.get("/console/factures")).text
    assert "F-MINE" in page
    assert "F-THEIRS" not in page
    assert (await http.get(f"/console/factures/{mine}")).status_code == 200
    assert (await http.get(f"/console/factures/{theirs}")).status_code == 404
    assert (await http.get(f"/console/factures/{theirs}/suivi")).status_code == 404
    detail = (await http.get(f"/console/factures/{mine}")).text
    assert "Relancer" not in detail


async def test_the_invoice_page_shows_the_normalized_invoice(
    http: httpx.AsyncClient, sign_in: SignIn, make_key: KeyFactory, registered_suppliers: None
) -> None:
    invoice_id = await _post_invoice(http, make_key, invoice_number="F-DETAIL")
    await sign_in()
    page = await http.get(f"/console/factures/{invoice_id}")
    assert page.status_code == 200
    for text in (
        "F-DETAIL",
        invoice_id,
        "Total TTC",
        "En file",
        "Mise en file",
        "Dépôt dans Chorus",
    ):
        assert text in page.text
    follow_up = await http.get(f"/console/factures/{invoice_id}/suivi")
    assert "Historique" in follow_up.text
    assert (await http.get("/console/factures/inv_01JD0000000000000000000000")).status_code == 404
    assert (await http.get(f"/console/factures/{invoice_id}/pdf")).status_code == 404
    assert (await http.get(f"/console/factures/{invoice_id}/document-depose")).status_code == 404


async def test_a_failed_invoice_is_retried_from_its_page(
    http: httpx.AsyncClient,
    sign_in: SignIn,
    make_key: KeyFactory,
    registered_suppliers: None,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    invoice_id = await _post_invoice(http, make_key)
    csrf = await sign_in()
    refused = await http.post(f"/console/factures/{invoice_id}/relancer", data={"csrf": csrf})
    assert refused.status_code == 409
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Invoice).where(Invoice.id == invoice_id).values(status="failed")
        )
    page = (await http.get(f"/console/factures/{invoice_id}")).text
    assert "Relancer la facture" in page
    assert "data-confirm" in page
    answer = await http.post(f"/console/factures/{invoice_id}/relancer", data={"csrf": csrf})
    assert answer.status_code == 303
    async with sessionmaker() as session:
        invoice = await session.get(Invoice, invoice_id)
    assert invoice is not None
    assert invoice.status == "queued"


async def test_structures_are_registered_rotated_and_resumed(
    http: httpx.AsyncClient,
    sign_in: SignIn,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    csrf = await sign_in()
    form = {
        "csrf": csrf,
        "siret": "732 829 320 00074",
        "login": "TECH_NEW@cpro.fr",
        "password": "s3cret-pass",
        "address_line1": "1 rue Neuve",
        "postal_code": "75001",
        "city": "Paris",
        "country_code": "FR",
    }
    created = await http.post("/console/structures", data=form)
    assert created.status_code == 200
    assert f"Structure {NEW_SIRET} enregistrée" in created.text
    assert "s3cret-pass" not in created.text
    again = await http.post("/console/structures", data=form)
    assert again.status_code == 409
    bad = await http.post("/console/structures", data={**form, "siret": "123"})
    assert bad.status_code == 422
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(SupplierStructure)
            .where(SupplierStructure.siret == NEW_SIRET)
            .values(paused_at=SupplierStructure.created_at, paused_reason="401 from Chorus")
        )
    page = (await http.get("/console/structures")).text
    assert "En pause" in page
    resumed = await http.post(f"/console/structures/{NEW_SIRET}/reprendre", data={"csrf": csrf})
    assert "reprise" in resumed.text
    rotated = await http.post(
        f"/console/structures/{NEW_SIRET}/mot-de-passe", data={"csrf": csrf, "password": "new-1"}
    )
    assert "remplacé" in rotated.text
    async with sessionmaker() as session:
        structure = await session.get(SupplierStructure, NEW_SIRET)
    assert structure is not None
    assert structure.paused_at is None
    assert structure.address_line1 == "1 rue Neuve"


async def test_api_clients_are_created_revoked_and_rotated(
    http: httpx.AsyncClient, sign_in: SignIn, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    csrf = await sign_in()
    created = await http.post(
        "/console/clients",
        data={
            "csrf": csrf,
            "name": "erp-test",
            "suppliers": SUPPLIER_SIRET,
            "scopes": ["invoices:read", "invoices:write"],
        },
    )
    assert created.status_code == 200
    key = re.search(r'data-testid="new-key">(cpg_[^<]+)<', created.text)
    assert key, created.text
    listing = await http.get("/v1/invoices", headers={"Authorization": f"Bearer {key.group(1)}"})
    assert listing.status_code == 200
    assert key.group(1) not in (await http.get("/console/clients")).text
    async with sessionmaker() as session:
        client = await session.scalar(select(ApiClient).where(ApiClient.name == "erp-test"))
    assert client is not None
    rotated = await http.post(f"/console/clients/{client.id}/renouveler", data={"csrf": csrf})
    new_key = re.search(r'data-testid="new-key">(cpg_[^<]+)<', rotated.text)
    assert new_key
    assert new_key.group(1) != key.group(1)
    revoked = await http.post(f"/console/clients/{client.id}/revoquer", data={"csrf": csrf})
    assert "révoqué" in revoked.text
    refused = await http.get(
        "/v1/invoices", headers={"Authorization": f"Bearer {new_key.group(1)}"}
    )
    assert refused.status_code == 401
    twice = await http.post(
        "/console/clients", data={"csrf": csrf, "name": "erp-test", "scopes": ["invoices:read"]}
    )
    assert twice.status_code == 409
    assert (
        await http.post("/console/clients/cli_nope/revoquer", data={"csrf": csrf})
    ).status_code == 404


async def test_webhooks_are_created_tested_and_deleted(
    http: httpx.AsyncClient, sign_in: SignIn, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    csrf = await sign_in()
    created = await http.post(
        "/console/webhooks",
        data={"csrf": csrf, "url": "https://hooks.example.com/chorus", "description": "compta"},
    )
    assert created.status_code == 200, created.text
    assert "whsec_" in created.text
    assert "whsec_" not in (await http.get("/console/webhooks")).text
    private = await http.post("/console/webhooks", data={"csrf": csrf, "url": "http://127.0.0.1/x"})
    assert private.status_code == 422
    async with sessionmaker() as session:
        subscription = await session.scalar(select(WebhookSubscription))
    assert subscription is not None
    tested = await http.post(f"/console/webhooks/{subscription.id}/tester", data={"csrf": csrf})
    assert "Événement de test mis en file" in tested.text
    async with sessionmaker() as session:
        item = await session.scalar(select(OutboxItem).where(OutboxItem.kind == "webhook.deliver"))
        event = await session.scalar(select(Event).where(Event.type == "webhook.test"))
    assert item is not None
    assert event is not None
    assert item.payload == {"event_id": event.id, "subscription_id": subscription.id}
    deleted = await http.post(f"/console/webhooks/{subscription.id}/supprimer", data={"csrf": csrf})
    assert "Abonnement supprimé" in deleted.text
    assert "Supprimé" in deleted.text


async def test_static_assets_are_served_by_the_gateway(http: httpx.AsyncClient) -> None:
    htmx = await http.get("/console/static/htmx.min.js")
    assert htmx.status_code == 200
    assert "htmx" in htmx.text
    assert (await http.get("/console/static/console.css")).status_code == 200
    assert (await http.get("/console/static/htmx.LICENSE.txt")).status_code == 200


async def test_a_client_key_dashboard_counts_only_its_suppliers(
    http: httpx.AsyncClient, sign_in: SignIn, make_key: KeyFactory, registered_suppliers: None
) -> None:
    await _post_invoice(http, make_key, OTHER_SUPPLIER_SIRET)
    await sign_in(operator=False, suppliers=(SUPPLIER_SIRET,))
    page = (await http.get("/console")).text
    assert "0 acceptées" in page
    assert Scope.OPERATOR not in page
