"""Signed PDFs: DEPOT_PDF_SIGNE_API wants a file carrying a PDF signature; every PDF deposit
records whether its file is signed, and a flux keeps `avecSignature`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.emulator.clock import Clock

from .builders import attachment, pdf_invoice
from .documents import cii, deposit_body, facturx
from .pdfs import blank_pdf, hand_signed_pdf, pyhanko_signed_pdf, without_signature_value

SOUMETTRE = "/cpro/factures/v1/soumettre"
AJOUTER = "/cpro/transverses/v1/ajouter/fichier"
RECHERCHER = "/cpro/factures/v1/rechercher/fournisseur"
DEPOSER = "/cpro/factures/v1/deposer/flux"


async def _upload(client: httpx.AsyncClient, headers: dict[str, str], content: bytes) -> int:
    response = await client.post(AJOUTER, json=attachment(content), headers=headers)
    assert response.json()["codeRetour"] == 0, response.text
    return int(response.json()["pieceJointeId"])


def _signed_mode(body: dict[str, Any]) -> dict[str, Any]:
    return body | {"modeDepot": "DEPOT_PDF_SIGNE_API"}


async def _only_invoice(client: httpx.AsyncClient) -> dict[str, Any]:
    truth = (await client.get("/_emulator/invoices")).json()
    (invoice,) = truth["invoices"]
    detail: dict[str, Any] = (await client.get(f"/_emulator/invoices/{invoice['id']}")).json()
    assert detail == invoice
    return detail


async def test_a_signed_pdf_deposited_as_signed_is_accepted_and_shown_signed(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    content = hand_signed_pdf()
    piece = await _upload(client, acme, content)

    response = await client.post(SOUMETTRE, json=_signed_mode(pdf_invoice(piece)), headers=acme)

    assert response.json()["codeRetour"] == 0, response.text
    invoice = await _only_invoice(client)
    assert invoice["mode"] == "DEPOT_PDF_SIGNE_API"
    assert invoice["signed_pdf"] is True
    assert [(a["name"], a["size"], a["kind"]) for a in invoice["attachments"]] == [
        ("facture.pdf", len(content), "principal")
    ]


async def test_a_pdf_signed_by_pyhanko_is_detected_as_signed(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    piece = await _upload(client, acme, await pyhanko_signed_pdf())

    response = await client.post(SOUMETTRE, json=_signed_mode(pdf_invoice(piece)), headers=acme)

    assert response.json()["codeRetour"] == 0, response.text
    assert (await _only_invoice(client))["signed_pdf"] is True


@pytest.mark.parametrize(
    "content",
    [
        blank_pdf(),
        without_signature_value(hand_signed_pdf()),
        b"/ByteRange [0 1 2 3] /Contents <00>",
    ],
    ids=["plain PDF", "no signature value", "not a PDF"],
)
async def test_depot_pdf_signe_api_refuses_a_file_without_a_pdf_signature(
    client: httpx.AsyncClient, acme: dict[str, str], content: bytes
) -> None:
    piece = await _upload(client, acme, content)

    response = await client.post(SOUMETTRE, json=_signed_mode(pdf_invoice(piece)), headers=acme)

    assert response.json()["codeRetour"] == 20094
    assert "signé" in response.json()["libelle"]
    assert (await client.get("/_emulator/invoices")).json()["total"] == 0


async def test_depot_pdf_signe_api_without_a_main_attachment_is_refused(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    response = await client.post(SOUMETTRE, json=_signed_mode(pdf_invoice(None)), headers=acme)

    assert response.json()["codeRetour"] == 20306


@pytest.mark.parametrize(
    ("content", "signed"),
    [(hand_signed_pdf(), True), (blank_pdf(), False)],
    ids=["signed", "plain"],
)
async def test_depot_pdf_api_takes_any_pdf_and_records_whether_it_is_signed(
    client: httpx.AsyncClient, acme: dict[str, str], content: bytes, signed: bool
) -> None:
    piece = await _upload(client, acme, content)

    response = await client.post(SOUMETTRE, json=pdf_invoice(piece), headers=acme)

    assert response.json()["codeRetour"] == 0
    invoice = await _only_invoice(client)
    assert invoice["mode"] == "DEPOT_PDF_API"
    assert invoice["signed_pdf"] is signed


async def test_a_signed_deposit_is_found_by_its_mode(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    signed = await _upload(client, acme, hand_signed_pdf())
    plain = await _upload(client, acme, blank_pdf())
    await client.post(SOUMETTRE, json=_signed_mode(pdf_invoice(signed, "S-1")), headers=acme)
    await client.post(SOUMETTRE, json=pdf_invoice(plain, "P-1"), headers=acme)

    found = await client.post(RECHERCHER, json={"modeDepot": "DEPOT_PDF_SIGNE_API"}, headers=acme)

    assert [item["numeroFacture"] for item in found.json()["listeFactures"]] == ["S-1"]
    assert found.json()["listeFactures"][0]["modeDepot"] == "DEPOT_PDF_SIGNE_API"


@pytest.mark.parametrize("with_signature", [True, False])
async def test_a_flux_keeps_avec_signature(
    client: httpx.AsyncClient, acme: dict[str, str], with_signature: bool
) -> None:
    body = deposit_body(cii(), avecSignature=with_signature)

    response = await client.post(DEPOSER, json=body, headers=acme)

    assert response.json()["codeRetour"] == 0
    (flux,) = (await client.get("/_emulator/flux")).json()
    assert flux["with_signature"] is with_signature


async def test_a_signed_facturx_integrates_as_a_signed_invoice(
    client: httpx.AsyncClient, acme: dict[str, str], clock: Clock
) -> None:
    signed = await pyhanko_signed_pdf(facturx(cii()))
    body = deposit_body(signed, "IN_DP_E2_CII_FACTURX", avecSignature=True)

    response = await client.post(DEPOSER, json=body, headers=acme)
    clock.advance(2)

    assert response.json()["codeRetour"] == 0, response.text
    invoice = await _only_invoice(client)
    assert invoice["mode"] == "EDI"
    assert invoice["signed_pdf"] is True
    assert invoice["attachments"] == []


async def test_an_unsigned_facturx_integrates_as_unsigned(
    client: httpx.AsyncClient, acme: dict[str, str], clock: Clock
) -> None:
    body = deposit_body(facturx(cii()), "IN_DP_E2_CII_FACTURX")

    await client.post(DEPOSER, json=body, headers=acme)
    clock.advance(2)

    assert (await _only_invoice(client))["signed_pdf"] is False
