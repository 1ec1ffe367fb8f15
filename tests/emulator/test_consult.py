"""factures/v1/consulter/fournisseur and consulter/historique."""

from __future__ import annotations

from typing import Any

import httpx

from app.emulator.clock import Clock

from .builders import ACME, BETA, attachment, login, pdf_invoice, saisie_invoice
from .conftest import MakeClient

SOUMETTRE = "/cpro/factures/v1/soumettre"
CONSULTER = "/cpro/factures/v1/consulter/fournisseur"
HISTORIQUE = "/cpro/factures/v1/consulter/historique"


async def _submit(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    response = await client.post(SOUMETTRE, json=saisie_invoice("F-1"), headers=headers)
    return int(response.json()["identifiantFactureCPP"])


async def _chorus_number(client: httpx.AsyncClient, invoice_id: int) -> str:
    # SAISIE_API invoices carry the number Chorus gave them, not the sender's "F-1".
    return str((await client.get(f"/_emulator/invoices/{invoice_id}")).json()["number"])


async def test_consulter_returns_the_invoice_with_its_status(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    invoice_id = await _submit(client, acme)

    response = await client.post(
        CONSULTER, json={"identifiantFactureCPP": invoice_id, "codeLangue": "FR"}, headers=acme
    )

    body = response.json()
    assert body["codeRetour"] == 0
    facture = body["facture"]
    assert facture["identifiantFactureCPP"] == invoice_id
    assert facture["numeroFacture"] == await _chorus_number(client, invoice_id)
    assert facture["statutFacture"] == "DEPOSEE"
    assert facture["modeDepot"] == "SAISIE_API"
    assert facture["destinataire"]["codeDestinataire"] == "11000201100044"
    assert facture["destinataire"]["destinataireEtat"] == "OUI"
    assert facture["destinataire"]["codeServiceExecutant"] == "SFACETAT"
    assert facture["fournisseur"]["idFournisseur"] == ACME.structure_id
    assert facture["fournisseur"]["codeFournisseur"] == ACME.siret
    assert facture["references"]["numeroBonCommande"] == "0000048295"
    assert facture["montantTotal"]["montantTtcTotal"] == 120.0
    assert (
        facture["lignesDePoste"]["lignePoste"][0]["lignePosteDenomination"] == "Ramettes de papier"
    )
    assert facture["recapitulatifDeTva"]["ligneTva"][0]["ligneTvaMontantTvaParTaux"] == 20.0


async def test_consulter_lists_the_attachments_of_a_pdf_invoice(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    uploaded = await client.post(
        "/cpro/transverses/v1/ajouter/fichier", json=attachment(), headers=acme
    )
    pdf_id = uploaded.json()["pieceJointeId"]
    submitted = await client.post(SOUMETTRE, json=pdf_invoice(pdf_id), headers=acme)

    response = await client.post(
        CONSULTER,
        json={"identifiantFactureCPP": submitted.json()["identifiantFactureCPP"]},
        headers=acme,
    )

    facture = response.json()["facture"]
    assert facture["modeDepot"] == "DEPOT_PDF_API"
    assert facture["listeDesPiecesJointes"]["pieceJointe"] == [
        {
            "pieceJointeId": pdf_id,
            "pieceJointeDesignation": "Facture",
            "pieceJointeType": "PRINCIPALE",
        }
    ]


async def test_an_unknown_or_foreign_invoice_is_not_found(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    invoice_id = await _submit(client, acme)
    beta = await login(client, BETA)

    unknown = await client.post(CONSULTER, json={"identifiantFactureCPP": 1}, headers=acme)
    foreign = await client.post(CONSULTER, json={"identifiantFactureCPP": invoice_id}, headers=beta)
    history = await client.post(HISTORIQUE, json={"idFacture": invoice_id}, headers=beta)

    for response in (unknown, foreign, history):
        assert response.status_code == 200
        assert response.json() == {
            "codeRetour": 20000,
            "libelle": "La demande de paiement n'existe pas.",
        }


async def test_historique_starts_with_deposee(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    invoice_id = await _submit(client, acme)

    response = await client.post(HISTORIQUE, json={"idFacture": invoice_id}, headers=acme)

    body = response.json()
    assert body["codeRetour"] == 0
    assert body["idFacture"] == invoice_id
    assert body["numeroFacture"] == await _chorus_number(client, invoice_id)
    assert body["statutCourantCode"] == "DEPOSEE"
    (entry,) = body["historiquesDesStatuts"]["histoStatut"]
    assert entry["histoStatutCode"] == "DEPOSEE"
    assert entry["histoStatutDatePassage"] == "2025-03-03 10:00"
    assert entry["histoStatutCommentaire"] is None
    assert isinstance(entry["histoStatutId"], int)


async def test_consulter_needs_its_id(client: httpx.AsyncClient, acme: dict[str, str]) -> None:
    response = await client.post(CONSULTER, json={}, headers=acme)

    assert response.status_code == 400
    assert "identifiantFactureCPP" in response.json()["libelle"]


async def _five_statuses(make_client: MakeClient, clock: Clock, **config: Any) -> tuple[Any, ...]:
    client = await make_client(**config)
    headers = await login(client)
    invoice_id = await _submit(client, headers)
    clock.advance(60)  # auto mode: DEPOSEE then four steps, every 5 s
    return client, headers, invoice_id


def _histo_page(size: int | None = None, page: int | None = None, **sort: str) -> dict[str, Any]:
    paging: dict[str, Any] = {"pageResultatDemandeeListeHistoStatut": page, **sort}
    if size is not None:
        paging["nbResultatsParPageListeHistoStatut"] = size
    return {k: v for k, v in paging.items() if v is not None}


async def test_historique_pages_when_asked_with_a_small_page_size(
    make_client: MakeClient, clock: Clock
) -> None:
    client, headers, invoice_id = await _five_statuses(make_client, clock)
    pages = []
    for page in (1, 2, 3):
        response = await client.post(
            HISTORIQUE,
            json={"idFacture": invoice_id, "paramRechercheHistoStatuts": _histo_page(page=page)},
            headers=headers,
        )
        pages.append(response.json()["historiquesDesStatuts"])

    assert [len(p["histoStatut"]) for p in pages] == [3, 2, 0]
    assert {
        key: pages[0][key]
        for key in (
            "nbResultatsParPageHistoStatut",
            "pageCouranteHistoStatut",
            "pagesHistoStatut",
            "totalHistoStatut",
        )
    } == {
        "nbResultatsParPageHistoStatut": 3,
        "pageCouranteHistoStatut": 1,
        "pagesHistoStatut": 2,
        "totalHistoStatut": 5,
    }
    codes = [e["histoStatutCode"] for p in pages for e in p["histoStatut"]]
    assert codes == [
        "DEPOSEE",
        "EN_COURS_ACHEMINEMENT",
        "MISE_A_DISPOSITION",
        "MANDATEE",
        "MISE_EN_PAIEMENT",
    ]


async def test_historique_grants_at_most_its_page_size(
    make_client: MakeClient, clock: Clock
) -> None:
    client, headers, invoice_id = await _five_statuses(make_client, clock, history_page_size=2)

    response = await client.post(
        HISTORIQUE,
        json={"idFacture": invoice_id, "paramRechercheHistoStatuts": _histo_page(size=100)},
        headers=headers,
    )

    statuts = response.json()["historiquesDesStatuts"]
    assert len(statuts["histoStatut"]) == 2
    assert (statuts["nbResultatsParPageHistoStatut"], statuts["pagesHistoStatut"]) == (2, 3)


async def test_historique_sorts_by_code_or_date_either_way(
    make_client: MakeClient, clock: Clock
) -> None:
    client, headers, invoice_id = await _five_statuses(make_client, clock, history_page_size=10)

    async def codes(**sort: str) -> list[str]:
        body = {"idFacture": invoice_id, "paramRechercheHistoStatuts": _histo_page(**sort)}
        response = await client.post(HISTORIQUE, json=body, headers=headers)
        return [
            e["histoStatutCode"] for e in response.json()["historiquesDesStatuts"]["histoStatut"]
        ]

    newest_first = await codes(
        triColonneListeHistoStatut="HistoStatutDatePassage", triSensListeHistoStatut="Descendant"
    )
    by_code = await codes(triColonneListeHistoStatut="HistoStatutCode")

    assert newest_first[0] == "MISE_EN_PAIEMENT"
    assert newest_first[-1] == "DEPOSEE"
    assert by_code == sorted(by_code)


async def test_historique_without_paging_lists_every_status(
    make_client: MakeClient, clock: Clock
) -> None:
    client, headers, invoice_id = await _five_statuses(make_client, clock)

    response = await client.post(HISTORIQUE, json={"idFacture": invoice_id}, headers=headers)

    statuts = response.json()["historiquesDesStatuts"]
    assert len(statuts["histoStatut"]) == 5
    assert statuts["totalHistoStatut"] == 5
