"""factures/v1/rechercher/fournisseur: the caller's invoices, filters and pagination."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.emulator.clock import Clock

from .builders import ACME, BETA, NO_PARAMETER_SIRET, login, saisie_invoice
from .conftest import MakeClient

SOUMETTRE = "/cpro/factures/v1/soumettre"
RECHERCHER = "/cpro/factures/v1/rechercher/fournisseur"


async def _submit(client: httpx.AsyncClient, headers: dict[str, str], count: int) -> list[int]:
    ids = []
    for index in range(1, count + 1):
        response = await client.post(
            SOUMETTRE, json=saisie_invoice(f"F-{index:03d}"), headers=headers
        )
        ids.append(response.json()["identifiantFactureCPP"])
    return ids


async def test_results_come_10_per_page_by_default(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    await _submit(client, acme, 12)

    response = await client.post(RECHERCHER, json={}, headers=acme)

    body = response.json()
    assert body["codeRetour"] == 0
    assert body["parametresRetour"] == {
        "nbResultatsParPage": 10,
        "pageCourante": 1,
        "pages": 2,
        "total": 12,
    }
    assert len(body["listeFactures"]) == 10


async def test_a_later_page_holds_the_rest(client: httpx.AsyncClient, acme: dict[str, str]) -> None:
    ids = await _submit(client, acme, 12)
    paging = {"nbResultatsParPage": 5, "pageResultatDemandee": 3}

    response = await client.post(
        RECHERCHER, json={"rechercheFactureParFournisseur": paging}, headers=acme
    )

    body = response.json()
    assert body["parametresRetour"] == {
        "nbResultatsParPage": 5,
        "pageCourante": 3,
        "pages": 3,
        "total": 12,
    }
    assert [item["identifiantFactureCPP"] for item in body["listeFactures"]] == ids[10:]


async def test_descending_order_reverses_the_list(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    ids = await _submit(client, acme, 3)

    response = await client.post(
        RECHERCHER, json={"rechercheFactureParFournisseur": {"triSens": "Descendant"}}, headers=acme
    )

    assert [i["identifiantFactureCPP"] for i in response.json()["listeFactures"]] == ids[::-1]


async def test_an_item_carries_the_chorus_field_names(make_client: MakeClient) -> None:
    client = await make_client(saisie_numbering="sender")
    acme = await login(client)
    (invoice_id,) = await _submit(client, acme, 1)

    response = await client.post(RECHERCHER, json={"numeroFacture": "F-001"}, headers=acme)

    (item,) = response.json()["listeFactures"]
    assert item["identifiantFactureCPP"] == invoice_id
    assert item["numeroFacture"] == "F-001"
    assert item["statut"] == "DEPOSEE"
    assert item["commentaireEtatCourant"] is None
    assert item["codeDestinataire"] == "11000201100044"
    assert item["codeServiceExecutant"] == "SFACETAT"
    assert item["codeFournisseur"] == ACME.siret
    assert item["montantHT"] == 100.0
    assert item["montantTTC"] == 120.0
    assert item["dateDepot"] == "2025-03-03"
    assert item["dateHeureEtatCourant"] == "2025-03-03 10:00"
    assert item["typeFacture"] == "FACTURE"
    assert item["numeroBonCommande"] == "0000048295"


async def test_a_supplier_only_sees_its_own_invoices(make_client: MakeClient) -> None:
    client = await make_client(empty_search_not_found=False)
    await _submit(client, await login(client), 2)

    response = await client.post(RECHERCHER, json={}, headers=await login(client, BETA))

    assert response.json()["parametresRetour"]["total"] == 0
    assert response.json()["listeFactures"] == []


async def test_a_search_finding_nothing_answers_code_20000_on_http_200_by_default(
    make_client: MakeClient,
) -> None:
    # Even where refusals go on HTTP 400: "no result" is not a refusal of the request.
    client = await make_client(refusal_http_status=400)
    acme = await login(client)
    await _submit(client, acme, 1)

    response = await client.post(RECHERCHER, json={"numeroFacture": "F-999"}, headers=acme)

    assert response.status_code == 200
    assert response.json()["codeRetour"] == 20000
    assert "aucun résultat" in response.json()["libelle"]
    assert "listeFactures" not in response.json()


async def test_a_page_past_the_last_is_not_a_search_that_found_nothing(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    await _submit(client, acme, 1)
    paging = {"rechercheFactureParFournisseur": {"pageResultatDemandee": 2}}

    response = await client.post(RECHERCHER, json=paging, headers=acme)

    assert response.json()["codeRetour"] == 0
    assert response.json()["listeFactures"] == []


async def test_filters_combine(make_client: MakeClient, clock: Clock) -> None:
    client = await make_client(
        lifecycle_mode="manual", empty_search_not_found=False, saisie_numbering="sender"
    )
    acme = await login(client)
    await _submit(client, acme, 2)
    clock.advance(24 * 3600)
    acme = await login(client)  # the first token expired meanwhile
    await client.post(
        SOUMETTRE,
        json=saisie_invoice(
            "AV-1", invoice_type="AVOIR", original="F-001", ht=10, tva=2, ttc=12, unit_price=5
        ),
        headers=acme,
    )
    await client.post(
        SOUMETTRE,
        json=saisie_invoice("N-1", recipient=NO_PARAMETER_SIRET, service=None, ej=None),
        headers=acme,
    )
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"numeroFacture": "F-002"}, ["F-002"]),
        ({"typeFacture": "AVOIR"}, ["AV-1"]),
        ({"statutCourant": ["DEPOSEE"]}, ["F-001", "F-002", "AV-1", "N-1"]),
        ({"statutCourant": ["MANDATEE"]}, []),
        ({"periodeDateDepotDu": "2025-03-04"}, ["AV-1", "N-1"]),
        ({"periodeDateDepotAu": "2025-03-03"}, ["F-001", "F-002"]),
        ({"montantTTCMax": 50}, ["AV-1"]),
        ({"montantHTMin": 50, "typeFacture": "FACTURE"}, ["F-001", "F-002", "N-1"]),
        ({"listeDestinataire": [{"idDestinataire": 26000005}]}, ["N-1"]),
        ({"numeroFactureOrigine": "F-001"}, ["AV-1"]),
        ({"numeroFluxDepot": "CPP0011117000000000300163"}, []),
        ({"idFournisseur": ACME.structure_id, "numeroFacture": "N-1"}, ["N-1"]),
        (
            {"cadreFacturation": {"codeCadreFacturation": "A1_FACTURE_FOURNISSEUR"}},
            ["F-001", "F-002", "AV-1", "N-1"],
        ),
        ({"periodeDateHeureEtatCourantDu": "2025-03-04 09:00"}, ["AV-1", "N-1"]),
        ({"rejetTraite": True}, []),
    ]
    for query, expected in cases:
        response = await client.post(RECHERCHER, json=query, headers=acme)
        found = [item["numeroFacture"] for item in response.json()["listeFactures"]]
        assert found == expected, query


@pytest.mark.parametrize(
    "query",
    [
        {"statutCourant": "DEPOSEE"},
        {"rechercheFactureParFournisseur": {"nbResultatsParPage": 0}},
        {"periodeDateDepotDu": "hier"},
    ],
)
async def test_a_malformed_search_gets_400(
    client: httpx.AsyncClient, acme: dict[str, str], query: dict[str, Any]
) -> None:
    response = await client.post(RECHERCHER, json=query, headers=acme)

    assert response.status_code == 400
