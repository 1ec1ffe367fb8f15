"""structures/v1/*: the seeded directory as the Structures API shows it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .builders import ACME, STATE_ID, STATE_SIRET, login
from .conftest import MakeClient

RECHERCHER = "/cpro/structures/v1/rechercher"
CONSULTER = "/cpro/structures/v1/consulter"
SERVICES = "/cpro/structures/v1/rechercher/services"
SERVICE = "/cpro/structures/v1/consulter/service"


async def _find(client: httpx.AsyncClient, headers: dict[str, str], siret: str) -> dict[str, Any]:
    response = await client.post(
        RECHERCHER,
        json={"structure": {"identifiantStructure": siret, "typeIdentifiantStructure": "SIRET"}},
        headers=headers,
    )
    assert response.json()["codeRetour"] == 0
    (found,) = response.json()["listeStructures"]
    return dict(found)


async def test_rechercher_finds_the_state_by_siret(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    found = await _find(client, acme, STATE_SIRET)

    assert found == {
        "idStructureCPP": STATE_ID,
        "identifiantStructure": STATE_SIRET,
        "typeIdentifiantStructure": "SIRET",
        "designationStructure": "SERVICES DE L'ETAT POUR LA FACTURATION ELECTRONIQUE",
        "statut": "ACTIVE",
    }


async def test_rechercher_answers_code_20000_for_an_unknown_siret(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    response = await client.post(
        RECHERCHER, json={"structure": {"identifiantStructure": "12345678200069"}}, headers=acme
    )

    assert response.status_code == 200
    assert response.json()["codeRetour"] == 20000
    assert "listeStructures" not in response.json()


async def test_rechercher_can_answer_an_empty_list_instead(make_client: MakeClient) -> None:
    client = await make_client(empty_search_not_found=False)
    response = await client.post(
        RECHERCHER,
        json={"structure": {"identifiantStructure": "12345678200069"}},
        headers=await login(client),
    )

    assert response.json()["codeRetour"] == 0
    assert response.json()["listeStructures"] == []
    assert response.json()["parametresRetour"]["total"] == 0


async def test_rechercher_filters_and_pages(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    public = await client.post(
        RECHERCHER,
        json={"structure": {"typeStructure": "PUBLIQUE"}, "parametres": {"nbResultatsParPage": 2}},
        headers=acme,
    )
    by_name = await client.post(
        RECHERCHER, json={"structure": {"raisonSocialeStructure": "acme"}}, headers=acme
    )
    no_private = await client.post(
        RECHERCHER, json={"restreindreStructuresPrivees": True}, headers=acme
    )

    assert public.json()["parametresRetour"] == {
        "nbResultatsParPage": 2,
        "pageCourante": 1,
        "pages": 3,
        "total": 5,
    }
    assert [s["identifiantStructure"] for s in by_name.json()["listeStructures"]] == [ACME.siret]
    assert no_private.json()["parametresRetour"]["total"] == 5


QUALIFICATION_FLAGS = [
    ("11000201100044", True, True, False),
    ("12345678200028", True, False, False),
    ("12345678200036", False, True, False),
    ("12345678200044", False, False, True),
    ("12345678200051", False, False, False),
]


@pytest.mark.parametrize(("siret", "service", "ej", "either"), QUALIFICATION_FLAGS)
async def test_consulter_shows_the_qualification_flags(
    client: httpx.AsyncClient,
    acme: dict[str, str],
    siret: str,
    service: bool,
    ej: bool,
    either: bool,
) -> None:
    structure_id = (await _find(client, acme, siret))["idStructureCPP"]

    response = await client.post(
        CONSULTER, json={"idStructureCPP": structure_id, "codeLangue": "fr"}, headers=acme
    )

    body = response.json()
    assert body["codeRetour"] == 0
    assert body["informationGenerales"]["identifiantStructure"] == siret
    assert body["informationGenerales"]["structurePriveePublique"] == "PUBLIQUE"
    assert body["parametres"]["codeServiceDoitEtreRenseigne"] is service
    assert body["parametres"]["numeroEJDoitEtreRenseigne"] is ej
    assert body["parametres"]["gestionNumeroEJOuCodeService"] is either


async def test_a_buyer_can_say_it_never_reports_payment(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    added = await client.post(
        "/_emulator/structures",
        json={
            "identifier": "12345678200069",
            "designation": "ACHETEUR SANS REMONTEE DE PAIEMENT",
            "public": True,
            "payment_status_not_reported": True,
        },
    )
    assert added.status_code == 200, added.text
    structure_id = (await _find(client, acme, "12345678200069"))["idStructureCPP"]

    response = await client.post(CONSULTER, json={"idStructureCPP": structure_id}, headers=acme)

    assert response.json()["parametres"]["statutMiseEnPaiementNestPasRemonte"] is True


async def test_consulter_shows_the_callers_password_expiry(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    own = await client.post(CONSULTER, json={"idStructureCPP": ACME.structure_id}, headers=acme)
    state = await client.post(CONSULTER, json={"idStructureCPP": STATE_ID}, headers=acme)

    assert own.json()["informationGenerales"]["dateExpirationMotPasseCompteTech"] == (
        "2026-03-03T10:00:00.000+01:00"
    )
    assert own.json()["informationGenerales"]["structurePriveePublique"] == "PRIVEE"
    assert state.json()["informationGenerales"]["dateExpirationMotPasseCompteTech"] is None


async def test_an_unknown_structure_is_a_refusal(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    structure = await client.post(CONSULTER, json={"idStructureCPP": 42}, headers=acme)
    services = await client.post(SERVICES, json={"idStructure": 42}, headers=acme)
    service = await client.post(
        SERVICE, json={"idStructure": STATE_ID, "idService": 42}, headers=acme
    )

    assert [r.json()["codeRetour"] for r in (structure, services, service)] == [20092] * 3


async def test_the_state_lists_its_services_including_inactive_ones(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    response = await client.post(
        SERVICES,
        json={
            "idStructure": STATE_ID,
            "parametresRechercherServicesStructure": {"nbResultatsParPage": 100},
        },
        headers=acme,
    )

    body = response.json()
    services = {s["codeService"]: s for s in body["listeServices"]}
    assert body["parametresRetour"]["total"] == len(services) == 5
    assert services["SFACETAT"]["estActif"] is True
    assert services["SFACANCIEN"]["estActif"] is False
    assert "FACTURES_PUBLIQUES" in services
    assert set(services["SFACETAT"]) >= {"idService", "codeService", "libelleService", "estActif"}


async def test_services_come_sorted_and_paged(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    paging = {"nbResultatsParPage": 2, "pageResultatDemandee": 2, "triColonne": "CodeService"}

    response = await client.post(
        SERVICES,
        json={"idStructure": STATE_ID, "parametresRechercherServicesStructure": paging},
        headers=acme,
    )

    codes = [s["codeService"] for s in response.json()["listeServices"]]
    assert codes == ["FACTURES_PUBLIQUES", "SFACANCIEN"]
    assert response.json()["parametresRetour"]["pages"] == 3


async def test_consulter_service_tells_whether_an_ej_is_required(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    listing = await client.post(
        SERVICES,
        json={
            "idStructure": STATE_ID,
            "parametresRechercherServicesStructure": {"nbResultatsParPage": 10},
        },
        headers=acme,
    )
    ids = {s["codeService"]: s["idService"] for s in listing.json()["listeServices"]}

    plain = await client.post(
        SERVICE, json={"idStructure": STATE_ID, "idService": ids["SFACETAT"]}, headers=acme
    )
    with_ej = await client.post(
        SERVICE,
        json={"idStructure": STATE_ID, "idService": ids["COMPTABILITE"], "codeLangue": "FR"},
        headers=acme,
    )

    assert plain.json()["informationsGenerales"]["codeService"] == "SFACETAT"
    assert plain.json()["informationsGenerales"]["nomService"]
    assert plain.json()["parametres"]["numeroEngagement"] is False
    assert with_ej.json()["parametres"]["numeroEngagement"] is True
