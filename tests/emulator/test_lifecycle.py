"""The invoice lifecycle: auto mode on the clock, manual mode through the control API."""

from __future__ import annotations

import httpx
import pytest

from app.emulator.clock import Clock

from .builders import login, saisie_invoice
from .conftest import MakeClient

SOUMETTRE = "/cpro/factures/v1/soumettre"
HISTORIQUE = "/cpro/factures/v1/consulter/historique"
RECHERCHER = "/cpro/factures/v1/rechercher/fournisseur"


async def _submit(client: httpx.AsyncClient, headers: dict[str, str], number: str = "F-1") -> int:
    response = await client.post(SOUMETTRE, json=saisie_invoice(number), headers=headers)
    return int(response.json()["identifiantFactureCPP"])


async def _status(client: httpx.AsyncClient, headers: dict[str, str], invoice_id: int) -> str:
    response = await client.post(HISTORIQUE, json={"idFacture": invoice_id}, headers=headers)
    return str(response.json()["statutCourantCode"])


async def test_auto_mode_moves_one_step_per_pace(
    client: httpx.AsyncClient, acme: dict[str, str], clock: Clock
) -> None:
    invoice_id = await _submit(client, acme)
    seen = [await _status(client, acme, invoice_id)]
    for _ in range(5):
        clock.advance(5)
        seen.append(await _status(client, acme, invoice_id))

    assert seen == [
        "DEPOSEE",
        "EN_COURS_ACHEMINEMENT",
        "MISE_A_DISPOSITION",
        "MANDATEE",
        "MISE_EN_PAIEMENT",
        "MISE_EN_PAIEMENT",
    ]


async def test_the_pace_is_a_setting(make_client: MakeClient, clock: Clock) -> None:
    client = await make_client(lifecycle_step_seconds=60)
    headers = await login(client)
    invoice_id = await _submit(client, headers)

    clock.advance(59)
    before = await _status(client, headers, invoice_id)
    clock.advance(1)

    assert before == "DEPOSEE"
    assert await _status(client, headers, invoice_id) == "EN_COURS_ACHEMINEMENT"


@pytest.mark.parametrize(
    ("share", "status", "reason"),
    [
        ({"rejected_share": 1.0}, "REJETEE", "engagement non conforme"),
        ({"suspended_share": 1.0}, "SUSPENDUE", "pièce justificative manquante"),
    ],
)
async def test_auto_mode_rejects_or_suspends_the_configured_share_with_a_reason(
    make_client: MakeClient, clock: Clock, share: dict[str, float], status: str, reason: str
) -> None:
    client = await make_client(**share)
    headers = await login(client)
    invoice_id = await _submit(client, headers)

    clock.advance(60)

    history = (
        await client.post(HISTORIQUE, json={"idFacture": invoice_id}, headers=headers)
    ).json()
    codes = [entry["histoStatutCode"] for entry in history["historiquesDesStatuts"]["histoStatut"]]
    assert codes == ["DEPOSEE", "EN_COURS_ACHEMINEMENT", "MISE_A_DISPOSITION", status]
    assert reason in history["historiquesDesStatuts"]["histoStatut"][-1]["histoStatutCommentaire"]
    (item,) = (await client.post(RECHERCHER, json={}, headers=headers)).json()["listeFactures"]
    assert item["statut"] == status
    assert reason in item["commentaireEtatCourant"]


async def test_the_auto_share_is_deterministic_per_invoice(
    make_client: MakeClient, clock: Clock
) -> None:
    outcomes = []
    for _ in range(2):
        client = await make_client(rejected_share=0.5)
        headers = await login(client)
        ids = [await _submit(client, headers, f"F-{n}") for n in range(20)]
        clock.advance(60)
        headers = await login(client)
        outcomes.append([await _status(client, headers, invoice_id) for invoice_id in ids])

    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {"REJETEE", "MISE_EN_PAIEMENT"}


async def test_history_can_list_newest_first(make_client: MakeClient, clock: Clock) -> None:
    client = await make_client(history_newest_first=True)
    headers = await login(client)
    invoice_id = await _submit(client, headers)
    clock.advance(10)

    response = await client.post(
        HISTORIQUE, json={"idFacture": invoice_id, "nbResultatsMaximum": 2}, headers=headers
    )

    codes = [e["histoStatutCode"] for e in response.json()["historiquesDesStatuts"]["histoStatut"]]
    assert codes == ["MISE_A_DISPOSITION", "EN_COURS_ACHEMINEMENT"]


async def test_manual_mode_waits_for_the_control_api(make_client: MakeClient, clock: Clock) -> None:
    client = await make_client(lifecycle_mode="manual")
    headers = await login(client)
    invoice_id = await _submit(client, headers)
    clock.advance(3000)
    waiting = await _status(client, headers, invoice_id)

    changed = await client.post(
        f"/_emulator/invoices/{invoice_id}/status",
        json={"statut": "REJETEE", "motif": "Engagement juridique inconnu"},
    )

    assert waiting == "DEPOSEE"
    assert changed.status_code == 200
    assert changed.json()["status"] == "REJETEE"
    history = (
        await client.post(HISTORIQUE, json={"idFacture": invoice_id}, headers=headers)
    ).json()
    last = history["historiquesDesStatuts"]["histoStatut"][-1]
    assert history["statutCourantCode"] == "REJETEE"
    assert last["histoStatutCommentaire"] == "Engagement juridique inconnu"


async def test_a_buyer_action_cancels_the_planned_auto_steps(
    client: httpx.AsyncClient, acme: dict[str, str], clock: Clock
) -> None:
    invoice_id = await _submit(client, acme)
    clock.advance(10)

    await client.post(
        f"/_emulator/invoices/{invoice_id}/status",
        json={"statut": "SUSPENDUE", "motif": "Pièce manquante"},
    )
    clock.advance(100)

    history = (await client.post(HISTORIQUE, json={"idFacture": invoice_id}, headers=acme)).json()
    codes = [entry["histoStatutCode"] for entry in history["historiquesDesStatuts"]["histoStatut"]]
    assert codes == ["DEPOSEE", "EN_COURS_ACHEMINEMENT", "MISE_A_DISPOSITION", "SUSPENDUE"]


@pytest.mark.parametrize(
    "change",
    [
        {"statut": "REJETEE"},
        {"statut": "SUSPENDUE", "motif": "  "},
        {"statut": "PAYEE"},
        {"statut": "MANDATEE", "extra": 1},
    ],
)
async def test_an_invalid_status_change_gets_422(
    client: httpx.AsyncClient, acme: dict[str, str], change: dict[str, str]
) -> None:
    invoice_id = await _submit(client, acme)

    response = await client.post(f"/_emulator/invoices/{invoice_id}/status", json=change)

    assert response.status_code == 422


async def test_a_status_change_on_an_unknown_invoice_gets_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/_emulator/invoices/1/status", json={"statut": "MANDATEE"})

    assert response.status_code == 404


async def test_the_clock_can_be_advanced_through_the_control_api(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    invoice_id = await _submit(client, acme)

    advanced = await client.post("/_emulator/clock/advance", json={"seconds": 7.5})

    assert advanced.json()["now"] == "2025-03-03T09:00:07.500000Z"
    assert (await client.get("/_emulator/clock")).json() == advanced.json()
    assert await _status(client, acme, invoice_id) == "EN_COURS_ACHEMINEMENT"
    detail = (await client.get(f"/_emulator/invoices/{invoice_id}")).json()
    assert [event["code"] for event in detail["history"]] == ["DEPOSEE", "EN_COURS_ACHEMINEMENT"]


async def test_the_clock_does_not_go_back(client: httpx.AsyncClient) -> None:
    response = await client.post("/_emulator/clock/advance", json={"seconds": -1})

    assert response.status_code == 422


@pytest.mark.parametrize("final", ["REJETEE", "MISE_EN_PAIEMENT", "ABANDONNEE", "SUPPRIMEE"])
async def test_a_final_status_is_final(make_client: MakeClient, final: str, clock: Clock) -> None:
    client = await make_client(lifecycle_mode="manual")
    headers = await login(client)
    invoice_id = await _submit(client, headers)
    moved = await client.post(
        f"/_emulator/invoices/{invoice_id}/status", json={"statut": final, "motif": "Motif"}
    )
    clock.advance(1)

    refused = await client.post(
        f"/_emulator/invoices/{invoice_id}/status", json={"statut": "REJETEE", "motif": "Trop tard"}
    )

    assert moved.status_code == 200
    assert refused.status_code == 409
    assert final in refused.json()["detail"]
    assert "final" in refused.json()["detail"]
    detail = (await client.get(f"/_emulator/invoices/{invoice_id}")).json()
    assert [event["code"] for event in detail["history"]] == ["DEPOSEE", final]


async def test_an_invoice_paid_in_auto_mode_cannot_be_rejected_afterwards(
    client: httpx.AsyncClient, acme: dict[str, str], clock: Clock
) -> None:
    invoice_id = await _submit(client, acme)
    clock.advance(60)

    refused = await client.post(
        f"/_emulator/invoices/{invoice_id}/status", json={"statut": "REJETEE", "motif": "Non"}
    )

    assert refused.status_code == 409
    assert await _status(client, acme, invoice_id) == "MISE_EN_PAIEMENT"


async def test_a_buyer_cannot_move_an_invoice_back_to_deposee(
    client: httpx.AsyncClient, acme: dict[str, str], clock: Clock
) -> None:
    invoice_id = await _submit(client, acme)
    clock.advance(10)

    refused = await client.post(
        f"/_emulator/invoices/{invoice_id}/status", json={"statut": "DEPOSEE"}
    )

    assert refused.status_code == 409
    assert await _status(client, acme, invoice_id) == "MISE_A_DISPOSITION"


async def test_a_rejection_before_payment_is_still_accepted(
    client: httpx.AsyncClient, acme: dict[str, str], clock: Clock
) -> None:
    invoice_id = await _submit(client, acme)
    clock.advance(15)

    changed = await client.post(
        f"/_emulator/invoices/{invoice_id}/status", json={"statut": "REJETEE", "motif": "EJ clos"}
    )

    assert changed.status_code == 200
    assert changed.json()["status"] == "REJETEE"
