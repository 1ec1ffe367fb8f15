"""factures/v1/soumettre: the answer on success and every business rule, table-driven."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from .builders import (
    ACME,
    BETA,
    EJ_OR_SERVICE_SIRET,
    EJ_REQUIRED_SIRET,
    NO_PARAMETER_SIRET,
    SERVICE_REQUIRED_SIRET,
    attachment,
    login,
    pdf_invoice,
    saisie_invoice,
)
from .conftest import MakeClient

SOUMETTRE = "/cpro/factures/v1/soumettre"


async def test_an_accepted_invoice_is_deposee(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    response = await client.post(SOUMETTRE, json=saisie_invoice("F-1"), headers=acme)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json;charset=utf-8"
    body = response.json()
    assert body["codeRetour"] == 0
    assert body["libelle"] == "GCU_MSG_01_000"
    assert isinstance(body["identifiantFactureCPP"], int)
    # Chorus's own number replaces the sender's in SAISIE_API (see test_numbering.py).
    assert len(body["numeroFacture"]) == 20
    assert body["statutFacture"] == "DEPOSEE"
    assert body["dateDepot"] == "2025-03-03"
    assert body["identifiantStructure"] == ACME.siret
    assert len(body["empreinteCertificatDepot"]) == 44


async def test_an_invoice_without_number_is_numbered_by_chorus(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    response = await client.post(SOUMETTRE, json=saisie_invoice(None), headers=acme)

    number = response.json()["numeroFacture"]
    assert len(number) == 20
    assert number.startswith("2025")


async def test_auto_numbering_can_be_turned_off(make_client: MakeClient) -> None:
    client = await make_client(auto_number_invoices=False)

    response = await client.post(SOUMETTRE, json=saisie_invoice(None), headers=await login(client))

    assert response.status_code == 400
    assert response.json()["codeRetour"] == 20099


def _without_lines(body: dict[str, Any]) -> None:
    del body["lignePoste"]


def _ht_off(body: dict[str, Any]) -> None:
    body["montantTotal"]["montantHtTotal"] = 90.0
    body["montantTotal"]["montantTtcTotal"] = 110.0


def _ttc_off(body: dict[str, Any]) -> None:
    body["montantTotal"]["montantTtcTotal"] = 120.01


Mutation = Callable[[dict[str, Any]], None]

REFUSALS: list[tuple[str, dict[str, Any], Mutation | None, int]] = [
    ("unknown recipient", {"recipient": "12345678200069"}, None, 20301),
    ("recipient failing Luhn", {"recipient": "12345678901234"}, None, 20301),
    ("supplier structure as recipient", {"recipient": BETA.siret}, None, 20301),
    ("unknown service", {"service": "NOPE"}, None, 20302),
    ("inactive service", {"service": "SFACANCIEN"}, None, 20302),
    ("FACTURES_PUBLIQUES", {"service": "FACTURES_PUBLIQUES"}, None, 20302),
    ("State without service", {"service": None}, None, 20304),
    ("State with blank service", {"service": ""}, None, 20304),
    (
        "service-mandatory recipient",
        {"recipient": SERVICE_REQUIRED_SIRET, "service": None},
        None,
        20304,
    ),
    ("State without EJ", {"ej": None}, None, 20303),
    (
        "EJ-mandatory recipient",
        {"recipient": EJ_REQUIRED_SIRET, "service": None, "ej": ""},
        None,
        20303,
    ),
    (
        "neither EJ nor service",
        {"recipient": EJ_OR_SERVICE_SIRET, "service": None, "ej": None},
        None,
        20303,
    ),
    ("lines not summing to HT", {}, _ht_off, 20305),
    ("HT + TVA != TTC", {}, _ttc_off, 20305),
    ("SAISIE_API without lines", {}, _without_lines, 20306),
    ("another supplier's structure", {"supplier_id": BETA.structure_id}, None, 20307),
    ("unknown supplier id", {"supplier_id": 1}, None, 20307),
    ("AVOIR without original", {"invoice_type": "AVOIR"}, None, 20308),
]


@pytest.mark.parametrize(
    ("overrides", "mutate", "code"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
async def test_chorus_refuses_an_invoice_breaking_a_rule(
    client: httpx.AsyncClient,
    acme: dict[str, str],
    overrides: dict[str, Any],
    mutate: Mutation | None,
    code: int,
) -> None:
    body = saisie_invoice(**overrides)
    if mutate is not None:
        mutate(body)

    response = await client.post(SOUMETTRE, json=body, headers=acme)

    assert response.status_code == 200
    assert response.json()["codeRetour"] == code
    assert response.json()["libelle"]
    assert set(response.json()) == {"codeRetour", "libelle"}


ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("State with service and EJ", {}),
    (
        "no-parameter recipient, nothing",
        {"recipient": NO_PARAMETER_SIRET, "service": None, "ej": None},
    ),
    (
        "EJ-or-service with the service",
        {"recipient": EJ_OR_SERVICE_SIRET, "service": "SERVICE_DEST_EJ_OU_SERV_OBL", "ej": None},
    ),
    (
        "EJ-or-service with the EJ",
        {"recipient": EJ_OR_SERVICE_SIRET, "service": None, "ej": "0000000001"},
    ),
    (
        "service-mandatory with its service",
        {"recipient": SERVICE_REQUIRED_SIRET, "service": "SERVICE_DEST_SERV_OBL", "ej": None},
    ),
    ("EJ-mandatory with an EJ", {"recipient": EJ_REQUIRED_SIRET, "service": None}),
    ("AVOIR naming its original", {"invoice_type": "AVOIR", "original": "F-2025-0000"}),
    (
        "a cent of line rounding",
        {"quantity": 3, "unit_price": 33.335, "ht": 100.0, "tva": 20.0, "ttc": 120.0},
    ),
]


@pytest.mark.parametrize("overrides", [case[1] for case in ACCEPTED], ids=[c[0] for c in ACCEPTED])
async def test_chorus_accepts_an_invoice_meeting_the_rules(
    client: httpx.AsyncClient, acme: dict[str, str], overrides: dict[str, Any]
) -> None:
    response = await client.post(SOUMETTRE, json=saisie_invoice(**overrides), headers=acme)

    assert response.json()["codeRetour"] == 0, response.json()


async def test_refusals_come_on_http_400_when_configured(make_client: MakeClient) -> None:
    client = await make_client(refusal_http_status=400)

    response = await client.post(
        SOUMETTRE, json=saisie_invoice(service=None), headers=await login(client)
    )

    assert response.status_code == 400
    assert response.json()["codeRetour"] == 20304


async def test_refusal_codes_are_settings(make_client: MakeClient) -> None:
    client = await make_client(code_service_missing=12345)

    response = await client.post(
        SOUMETTRE, json=saisie_invoice(service=None), headers=await login(client)
    )

    assert response.json()["codeRetour"] == 12345


async def test_an_unknown_recipient_failing_luhn_is_still_unknown_without_the_check(
    make_client: MakeClient,
) -> None:
    client = await make_client(check_luhn=False)

    response = await client.post(
        SOUMETTRE, json=saisie_invoice(recipient="12345678901234"), headers=await login(client)
    )

    assert response.json()["codeRetour"] == 20301
    assert "inconnu" in response.json()["libelle"]


async def test_a_service_requiring_an_ej_refuses_an_invoice_without_one(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    await client.post(
        "/_emulator/structures",
        json={
            "identifier": "80295478000002",
            "designation": "MAIRIE TEST",
            "public": True,
            "services": [{"code": "VOIRIE", "ej_required": True}, {"code": "ECOLES"}],
        },
    )

    without_ej = saisie_invoice("F-1", recipient="80295478000002", service="VOIRIE", ej=None)
    other_service = saisie_invoice("F-2", recipient="80295478000002", service="ECOLES", ej=None)

    assert (await client.post(SOUMETTRE, json=without_ej, headers=acme)).json()[
        "codeRetour"
    ] == 20303
    assert (await client.post(SOUMETTRE, json=other_service, headers=acme)).json()[
        "codeRetour"
    ] == 0


async def test_an_inactive_recipient_is_refused(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    await client.post(
        "/_emulator/structures",
        json={"identifier": "80295478000010", "designation": "ANCIENNE MAIRIE", "active": False},
    )

    response = await client.post(
        SOUMETTRE,
        json=saisie_invoice(recipient="80295478000010", service=None, ej=None),
        headers=acme,
    )

    assert response.json()["codeRetour"] == 20301


async def test_a_pdf_invoice_needs_its_main_attachment(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    uploaded = await client.post(
        "/cpro/transverses/v1/ajouter/fichier", json=attachment(), headers=acme
    )
    attachment_id = uploaded.json()["pieceJointeId"]

    missing = await client.post(SOUMETTRE, json=pdf_invoice(None, "P-1"), headers=acme)
    unknown = await client.post(SOUMETTRE, json=pdf_invoice(999, "P-2"), headers=acme)
    accepted = await client.post(SOUMETTRE, json=pdf_invoice(attachment_id, "P-3"), headers=acme)

    assert missing.json()["codeRetour"] == 20306
    assert unknown.json()["codeRetour"] == 20306
    assert accepted.json()["codeRetour"] == 0


async def test_a_supplier_cannot_use_another_suppliers_attachment(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    uploaded = await client.post(
        "/cpro/transverses/v1/ajouter/fichier", json=attachment(), headers=acme
    )
    beta = await login(client, BETA)

    response = await client.post(
        SOUMETTRE,
        json=pdf_invoice(uploaded.json()["pieceJointeId"], supplier_id=BETA.structure_id),
        headers=beta,
    )

    assert response.json()["codeRetour"] == 20306


async def test_a_resubmitted_number_is_a_refused_duplicate_counted_as_ground_truth(
    make_client: MakeClient,
) -> None:
    client = await make_client(saisie_numbering="sender")
    acme = await login(client)
    first = await client.post(SOUMETTRE, json=saisie_invoice("F-9"), headers=acme)
    again = await client.post(SOUMETTRE, json=saisie_invoice("F-9"), headers=acme)
    credit_note = await client.post(
        SOUMETTRE, json=saisie_invoice("F-9", invoice_type="AVOIR", original="F-8"), headers=acme
    )
    beta = await client.post(
        SOUMETTRE,
        json=saisie_invoice("F-9", supplier_id=BETA.structure_id),
        headers=await login(client, BETA),
    )

    truth = (await client.get("/_emulator/invoices")).json()
    assert first.json()["codeRetour"] == 0
    assert again.json()["codeRetour"] == 20300
    assert credit_note.json()["codeRetour"] == 0
    assert beta.json()["codeRetour"] == 0
    assert truth["total"] == 3
    assert truth["counts_by_supplier"] == {ACME.siret: 2, BETA.siret: 1}
    assert truth["duplicates_refused"] == 1
    assert truth["duplicates_refused_by_supplier"] == {ACME.siret: 1}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"modeDepot": "SAISIE_API"},
        saisie_invoice() | {"dateFacture": "01/03/2025"},
        saisie_invoice() | {"modeDepot": "FAX"},
        saisie_invoice() | {"fournisseur": {"idFournisseur": "ACME"}},
        saisie_invoice() | {"cadreDeFacturation": {"codeCadreFacturation": "Z9"}},
    ],
    ids=["empty", "missing fields", "bad date", "bad mode", "bad type", "bad framework"],
)
async def test_a_malformed_body_gets_400_with_an_envelope(
    client: httpx.AsyncClient, acme: dict[str, str], body: dict[str, Any]
) -> None:
    response = await client.post(SOUMETTRE, json=body, headers=acme)

    assert response.status_code == 400
    assert response.json()["codeRetour"] == 20099
    assert response.json()["libelle"].startswith("Requête invalide")


async def test_a_body_that_is_not_json_gets_400(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    response = await client.post(
        SOUMETTRE, content=b"{not json", headers=acme | {"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["codeRetour"] == 20099


async def test_a_misspelt_field_is_named_in_a_400(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    body = saisie_invoice()
    body["references"]["numeroEJ"] = body["references"].pop("numeroBonCommande")

    response = await client.post(SOUMETTRE, json=body, headers=acme)

    assert response.status_code == 400
    assert "references.numeroEJ" in response.json()["libelle"]


async def test_unknown_fields_can_be_tolerated(make_client: MakeClient) -> None:
    client = await make_client(reject_unknown_fields=False)

    response = await client.post(
        SOUMETTRE, json=saisie_invoice() | {"champInconnu": 1}, headers=await login(client)
    )

    assert response.json()["codeRetour"] == 0


@pytest.mark.parametrize(
    ("framework", "code"),
    [
        ({"codeCadreFacturation": "A5_ETAT_ACOMPTE_FOURNISSEUR"}, 20309),
        ({"codeCadreFacturation": "A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR"}, 20309),
        ({"codeCadreFacturation": "A9_FACTURE_SOUSTRAITANT"}, 20310),
        ({"codeCadreFacturation": "A12_FACTURE_COTRAITANT", "codeStructureValideur": " "}, 20310),
    ],
)
async def test_soumettre_refuses_frameworks_it_does_not_take(
    client: httpx.AsyncClient, acme: dict[str, str], framework: dict[str, str], code: int
) -> None:
    body = saisie_invoice("F-CADRE", cadreDeFacturation=framework)

    response = await client.post(SOUMETTRE, json=body, headers=acme)

    assert response.status_code == 200
    assert response.json()["codeRetour"] == code
    assert framework["codeCadreFacturation"] in response.json()["libelle"]


@pytest.mark.parametrize(
    "framework",
    [
        {"codeCadreFacturation": "A1_FACTURE_FOURNISSEUR"},
        {"codeCadreFacturation": "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE"},
        {"codeCadreFacturation": "A9_FACTURE_SOUSTRAITANT", "codeStructureValideur": ACME.siret},
        {"codeCadreFacturation": "A12_FACTURE_COTRAITANT", "codeStructureValideur": BETA.siret},
    ],
)
async def test_soumettre_takes_a1_a2_and_a9_a12_with_their_validator(
    client: httpx.AsyncClient, acme: dict[str, str], framework: dict[str, str]
) -> None:
    body = saisie_invoice("F-CADRE", cadreDeFacturation=framework)

    response = await client.post(SOUMETTRE, json=body, headers=acme)

    assert response.json()["codeRetour"] == 0, response.text
