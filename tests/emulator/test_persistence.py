"""File persistence: a second emulator on the same state file carries on where the first was."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from .builders import ACME, attachment, login, saisie_invoice
from .conftest import MakeClient

SOUMETTRE = "/cpro/factures/v1/soumettre"
RECHERCHER = "/cpro/factures/v1/rechercher/fournisseur"
AJOUTER = "/cpro/transverses/v1/ajouter/fichier"


async def test_a_restarted_emulator_keeps_its_state(
    make_client: MakeClient, tmp_path: Path
) -> None:
    state_file = tmp_path / "emulator" / "state.json"
    # Sender numbering, so a resent number is a refused duplicate across the restart.
    first = await make_client(
        state_file=state_file, lifecycle_mode="manual", saisie_numbering="sender"
    )
    headers = await login(first)
    submitted = await first.post(SOUMETTRE, json=saisie_invoice("F-1"), headers=headers)
    await first.post(SOUMETTRE, json=saisie_invoice("F-1"), headers=headers)
    await first.post(
        "/_emulator/structures",
        json={"identifier": "80295478000002", "designation": "MAIRIE TEST", "public": True},
    )
    invoice_id = submitted.json()["identifiantFactureCPP"]
    await first.post(f"/_emulator/invoices/{invoice_id}/status", json={"statut": "MANDATEE"})

    second = await make_client(
        state_file=state_file, lifecycle_mode="manual", saisie_numbering="sender"
    )
    found = await second.post(RECHERCHER, json={}, headers=headers)
    duplicate = await second.post(SOUMETTRE, json=saisie_invoice("F-1"), headers=headers)
    other = await second.post(SOUMETTRE, json=saisie_invoice("F-2"), headers=headers)
    to_new_recipient = await second.post(
        SOUMETTRE,
        json=saisie_invoice("F-3", recipient="80295478000002", service=None, ej=None),
        headers=headers,
    )

    (item,) = found.json()["listeFactures"]
    assert item["identifiantFactureCPP"] == invoice_id
    assert item["statut"] == "MANDATEE"
    assert duplicate.json()["codeRetour"] == 20300
    assert other.json()["identifiantFactureCPP"] > invoice_id
    assert to_new_recipient.json()["codeRetour"] == 0
    truth = (await second.get("/_emulator/invoices")).json()
    assert truth["counts_by_supplier"] == {ACME.siret: 3}
    assert truth["duplicates_refused"] == 2


async def test_the_state_file_is_plain_json(make_client: MakeClient, tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    client = await make_client(state_file=state_file)

    await client.post(SOUMETTRE, json=saisie_invoice(), headers=await login(client))

    saved = json.loads(state_file.read_text(encoding="utf-8"))
    assert saved["version"] == 1
    [invoice] = saved["invoices"]
    assert invoice["sender_number"] == "F-2025-0001"
    assert len(invoice["number"]) == 20
    assert not state_file.with_name("state.json.tmp").exists()


async def test_reset_also_clears_the_state_file(make_client: MakeClient, tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    client = await make_client(state_file=state_file)
    await client.post(SOUMETTRE, json=saisie_invoice(), headers=await login(client))

    await client.post("/_emulator/reset")
    restarted = await make_client(state_file=state_file)

    assert (await restarted.get("/_emulator/invoices")).json()["total"] == 0


async def test_without_a_state_file_nothing_survives(make_client: MakeClient) -> None:
    first = await make_client()
    await first.post(SOUMETTRE, json=saisie_invoice(), headers=await login(first))

    second: httpx.AsyncClient = await make_client()

    assert (await second.get("/_emulator/invoices")).json()["total"] == 0


async def test_ids_from_two_emulators_without_a_state_file_never_collide(
    make_client: MakeClient,
) -> None:
    first = await make_client()
    sent = await first.post(SOUMETTRE, json=saisie_invoice(), headers=await login(first))
    attached = await first.post(AJOUTER, json=attachment(), headers=await login(first))

    second = await make_client()
    again = await second.post(SOUMETTRE, json=saisie_invoice(), headers=await login(second))
    attached_again = await second.post(AJOUTER, json=attachment(), headers=await login(second))

    assert sent.json()["codeRetour"] == again.json()["codeRetour"] == 0
    assert again.json()["identifiantFactureCPP"] > sent.json()["identifiantFactureCPP"]
    assert attached_again.json()["pieceJointeId"] > attached.json()["pieceJointeId"]


async def test_a_reset_never_hands_out_an_id_again(make_client: MakeClient, tmp_path: Path) -> None:
    client = await make_client(state_file=tmp_path / "state.json")
    headers = await login(client)
    before = await client.post(SOUMETTRE, json=saisie_invoice(), headers=headers)

    await client.post("/_emulator/reset")
    after = await client.post(SOUMETTRE, json=saisie_invoice(), headers=headers)

    assert after.json()["identifiantFactureCPP"] > before.json()["identifiantFactureCPP"]


async def test_emulators_in_sequence_on_one_state_file_keep_invoices_and_never_reuse_an_id(
    make_client: MakeClient, tmp_path: Path
) -> None:
    state_file = tmp_path / "emulator-state.json"
    seen: list[int] = []
    for number in ("F-1", "F-2", "F-3"):
        client = await make_client(state_file=state_file)
        sent = await client.post(
            SOUMETTRE, json=saisie_invoice(number), headers=await login(client)
        )
        seen.append(sent.json()["identifiantFactureCPP"])

    truth = (await client.get("/_emulator/invoices")).json()
    assert [invoice["id"] for invoice in truth["invoices"]] == seen
    assert len(set(seen)) == 3
