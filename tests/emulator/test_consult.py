"""factures/v1/consulter/fournisseur and consulter/historique."""

from __future__ import annotations

import httpx

from .builders import ACME, BETA, attachment, login, pdf_invoice, saisie_invoice

SOUMETTRE = "/cpro/factures/v1/soumettre"
CONSULTER = "/cpro/factures/v1/consulter/fournisseur"
HISTORIQUE = "/cpro/factures/v1/consulter/historique"


async def _submit(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    response = await client.post(SOUMETTRE, json=saisie_invoice("F-1"), headers=headers)
    return int(response.json()["identifiantFactureCPP"])


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
    assert facture["numeroFacture"] == "F-1"
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
    assert body["numeroFacture"] == "F-1"
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
