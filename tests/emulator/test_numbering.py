"""Who numbers an invoice: Chorus itself in SAISIE_API (the default), the sender otherwise."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from app.emulator.settings import EmulatorSettings

from .builders import attachment, login, pdf_invoice, saisie_invoice
from .conftest import MakeClient

SOUMETTRE = "/cpro/factures/v1/soumettre"
RECHERCHER = "/cpro/factures/v1/rechercher/fournisseur"
CONSULTER = "/cpro/factures/v1/consulter/fournisseur"
HISTORIQUE = "/cpro/factures/v1/consulter/historique"
CHORUS_NUMBER = re.compile(r"2025\d{16}")


async def _submit(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(SOUMETTRE, json=body, headers=headers)
    assert response.json()["codeRetour"] == 0, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def _search(
    client: httpx.AsyncClient, headers: dict[str, str], number: str
) -> dict[str, Any]:
    response = await client.post(RECHERCHER, json={"numeroFacture": number}, headers=headers)
    found: dict[str, Any] = response.json()
    return found


async def _pdf_attachment(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    response = await client.post(
        "/cpro/transverses/v1/ajouter/fichier", json=attachment(), headers=headers
    )
    return int(response.json()["pieceJointeId"])


async def test_chorus_numbers_a_saisie_invoice_and_shows_only_its_own_number(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    answer = await _submit(client, acme, saisie_invoice("FA-2025-0042"))
    number = answer["numeroFacture"]
    invoice_id = answer["identifiantFactureCPP"]

    by_chorus_number = await _search(client, acme, number)
    by_sender_number = await _search(client, acme, "FA-2025-0042")
    consulted = await client.post(
        CONSULTER, json={"identifiantFactureCPP": invoice_id}, headers=acme
    )
    history = await client.post(HISTORIQUE, json={"idFacture": invoice_id}, headers=acme)
    control = (await client.get(f"/_emulator/invoices/{invoice_id}")).json()

    assert CHORUS_NUMBER.fullmatch(number)
    [item] = by_chorus_number["listeFactures"]
    assert (item["identifiantFactureCPP"], item["numeroFacture"]) == (invoice_id, number)
    assert by_sender_number["codeRetour"] == 20000
    assert by_sender_number.get("listeFactures") in (None, [])
    assert consulted.json()["facture"]["numeroFacture"] == number
    assert history.json()["numeroFacture"] == number
    # Only the control API tells which sender invoice it came from.
    assert (control["number"], control["sender_number"]) == (number, "FA-2025-0042")


async def test_chorus_numbers_are_unique_and_increasing(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    numbers = [
        (await _submit(client, acme, saisie_invoice(f"F-{index}")))["numeroFacture"]
        for index in range(5)
    ]

    assert all(CHORUS_NUMBER.fullmatch(number) for number in numbers)
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 5


async def test_the_same_saisie_invoice_sent_twice_is_two_chorus_invoices(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    first = await _submit(client, acme, saisie_invoice("F-9"))
    again = await _submit(client, acme, saisie_invoice("F-9"))

    truth = (await client.get("/_emulator/invoices")).json()
    assert first["identifiantFactureCPP"] != again["identifiantFactureCPP"]
    assert first["numeroFacture"] != again["numeroFacture"]
    assert truth["total"] == 2
    assert truth["duplicates_refused"] == 0
    assert [invoice["sender_number"] for invoice in truth["invoices"]] == ["F-9", "F-9"]


async def test_a_saisie_invoice_sent_without_a_number_is_numbered_by_chorus(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    answer = await _submit(client, acme, saisie_invoice(None))

    control = (await client.get(f"/_emulator/invoices/{answer['identifiantFactureCPP']}")).json()
    assert CHORUS_NUMBER.fullmatch(answer["numeroFacture"])
    assert control["sender_number"] is None


async def test_a_pdf_invoice_keeps_the_senders_number_and_its_duplicate_is_refused(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    attachment_id = await _pdf_attachment(client, acme)

    answer = await _submit(client, acme, pdf_invoice(attachment_id, "F-PDF-7"))
    again = await client.post(SOUMETTRE, json=pdf_invoice(attachment_id, "F-PDF-7"), headers=acme)
    found = await _search(client, acme, "F-PDF-7")

    assert answer["numeroFacture"] == "F-PDF-7"
    assert again.json()["codeRetour"] == 20300
    [item] = found["listeFactures"]
    assert item["identifiantFactureCPP"] == answer["identifiantFactureCPP"]
    truth = (await client.get("/_emulator/invoices")).json()
    assert [(i["number"], i["sender_number"]) for i in truth["invoices"]] == [
        ("F-PDF-7", "F-PDF-7")
    ]
    assert truth["duplicates_refused"] == 1


async def test_sender_numbering_keeps_the_senders_number_and_refuses_its_duplicate(
    make_client: MakeClient,
) -> None:
    client = await make_client(saisie_numbering="sender")
    acme = await login(client)

    answer = await _submit(client, acme, saisie_invoice("FA-2025-0042"))
    again = await client.post(SOUMETTRE, json=saisie_invoice("FA-2025-0042"), headers=acme)
    found = await _search(client, acme, "FA-2025-0042")

    assert answer["numeroFacture"] == "FA-2025-0042"
    assert again.json()["codeRetour"] == 20300
    [item] = found["listeFactures"]
    assert item["identifiantFactureCPP"] == answer["identifiantFactureCPP"]
    truth = (await client.get("/_emulator/invoices")).json()
    assert truth["invoices"][0]["sender_number"] == "FA-2025-0042"
    assert truth["duplicates_refused"] == 1


async def test_sender_numbering_still_numbers_an_invoice_sent_without_one(
    make_client: MakeClient,
) -> None:
    client = await make_client(saisie_numbering="sender")

    answer = await _submit(client, await login(client), saisie_invoice(None))

    assert CHORUS_NUMBER.fullmatch(answer["numeroFacture"])


def test_the_numbering_is_chorus_by_default_and_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("EMULATOR_SAISIE_NUMBERING", raising=False)
    default = EmulatorSettings(_env_file=None)
    monkeypatch.setenv("EMULATOR_SAISIE_NUMBERING", "sender")
    configured = EmulatorSettings(_env_file=None)
    monkeypatch.setenv("EMULATOR_SAISIE_NUMBERING", "erp")

    assert default.saisie_numbering == "chorus"
    assert configured.saisie_numbering == "sender"
    with pytest.raises(ValueError, match="saisie_numbering"):
        EmulatorSettings(_env_file=None)
