"""The flux channel from the client's side, against the emulator: deposit, report, search by flux.

The documents are the gateway's own (corpus scenario → `to_en16931` → CII or UBL writer), so these
tests also prove the emulator integrates what the gateway will really send. The emulator runs on a
frozen clock that the tests advance past its flux processing delay.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError

from app.chorus.client import DEPOSIT_FLUX, DETAILED_FLUX_REPORT, FLUX_REPORT, ChorusClient
from app.chorus.errors import ChorusAmbiguous, ChorusRefusal
from app.chorus.schemas import DepositFluxRequest, FluxReport, FluxState, to_json_bytes
from app.domain.invoice import Totals
from app.emulator.clock import Clock, frozen_clock
from app.emulator.faults import ENDPOINTS
from app.emulator.main import create_emulator_app
from app.formats.cii import write_cii
from app.formats.ubl import write_ubl
from tests.formats.corpus import Scenario, scenario

from .builders import SUPPLIER_1, chorus_settings
from .conftest import ASGI_URL, READ_TIMEOUT, emulator_config, put_faults
from .test_client_transport import FakePiste, client_for

START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
# The emulator's default processing delay is 2 s; a little more settles every flux.
PROCESSED = 3


class FluxEmulator:
    """An in-process emulator on a frozen clock, with its control API and one client."""

    def __init__(self, **config: Any) -> None:
        self.clock: Clock = frozen_clock(START)
        app = create_emulator_app(emulator_config(**config), clock=self.clock)
        transport = httpx.ASGITransport(app=app)
        self.control = httpx.AsyncClient(transport=transport, base_url=ASGI_URL)
        settings = chorus_settings(api_url=ASGI_URL, rate_per_second=1000.0, rate_burst=1000)
        self.client = ChorusClient(
            settings, httpx.AsyncClient(transport=transport, base_url=ASGI_URL)
        )

    async def faults(self, *rules: dict[str, Any]) -> None:
        await put_faults(self.control, *rules)

    async def flux_records(self) -> list[dict[str, Any]]:
        response = await self.control.get("/_emulator/flux")
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.control.aclose()


@pytest.fixture
async def emulator() -> AsyncIterator[FluxEmulator]:
    emulator = FluxEmulator()
    yield emulator
    await emulator.aclose()


def cii_of(case: Scenario) -> bytes:
    return write_cii(case.document())


def with_number(case: Scenario, number: str) -> Scenario:
    return replace(case, draft=replace(case.draft, invoice_number=number))


def with_service(case: Scenario, service: str) -> Scenario:
    buyer = case.draft.buyer
    return replace(case, draft=replace(case.draft, buyer=replace(buyer, service_code=service)))


def totals(case: Scenario) -> Totals:
    assert case.draft.totals is not None
    return case.draft.totals


SINGLE = scenario("single_rate")
# The emulator's refusal codes, which are its settings (Chorus's are not public).
CODES = emulator_config()


async def test_a_cii_flux_is_integrated_and_its_invoice_found_by_flux_number(
    emulator: FluxEmulator,
) -> None:
    client = emulator.client
    deposit = await client.deposit_flux(
        SUPPLIER_1,
        document=cii_of(SINGLE),
        file_name="UNCEFACT-F2026-000101.xml",
        syntax="IN_DP_E1_CII_16B",
    )
    received = await client.flux_report(SUPPLIER_1, deposit.numeroFluxDepot)
    before = await client.search_supplier_invoices(SUPPLIER_1, flux_number=deposit.numeroFluxDepot)
    emulator.clock.advance(PROCESSED)
    integrated = await client.flux_report(SUPPLIER_1, deposit.numeroFluxDepot)
    found = await client.search_supplier_invoices(SUPPLIER_1, flux_number=deposit.numeroFluxDepot)

    assert re.fullmatch(r"CPP\d{22}", deposit.numeroFluxDepot)
    assert deposit.dateDepot == START.date()
    assert deposit.syntaxeFlux == "IN_DP_E1_CII_16B"
    assert (received.etatCourantDepotFlux, received.is_final) == (FluxState.RECU, False)
    assert before == []
    assert (integrated.etatCourantDepotFlux, integrated.is_final) == (FluxState.INTEGRE, True)
    assert integrated.listeErreurDP == []
    assert integrated.numeroFluxDepot == deposit.numeroFluxDepot
    [invoice] = found
    # The number Chorus shows is the one in the supplier's books: the reason for the flux channel.
    assert invoice.numeroFacture == SINGLE.draft.invoice_number
    assert invoice.numeroFluxDepot == deposit.numeroFluxDepot
    assert invoice.modeDepot == "EDI"
    assert invoice.codeServiceExecutant == "SFACETAT"
    assert invoice.montantTTC == totals(SINGLE).gross


async def test_a_ubl_flux_is_integrated(emulator: FluxEmulator) -> None:
    case = scenario("multi_rate")
    client = emulator.client
    deposit = await client.deposit_flux(
        SUPPLIER_1,
        document=write_ubl(case.document()),
        file_name="ubl_chorus_facture_F2026-000102.xml",
        syntax="IN_DP_E1_UBL_INVOICE",
    )
    emulator.clock.advance(PROCESSED)
    report = await client.flux_report(SUPPLIER_1, deposit.numeroFluxDepot)
    found = await client.search_supplier_invoices(SUPPLIER_1, flux_number=deposit.numeroFluxDepot)

    assert report.etatCourantDepotFlux == FluxState.INTEGRE
    assert [(i.numeroFacture, i.montantHT) for i in found] == [
        (case.draft.invoice_number, totals(case).net)
    ]


async def test_the_plain_report_reads_like_the_detailed_one(emulator: FluxEmulator) -> None:
    client = emulator.client
    deposit = await client.deposit_flux(
        SUPPLIER_1, document=cii_of(SINGLE), file_name="f.xml", syntax="IN_DP_E1_CII_16B"
    )
    emulator.clock.advance(1)
    plain = await client.flux_report(SUPPLIER_1, deposit.numeroFluxDepot, detailed=False)
    detailed = await client.flux_report(SUPPLIER_1, deposit.numeroFluxDepot)

    assert plain.etatCourantDepotFlux == FluxState.EN_COURS_TRAITEMENT_CPP
    assert not plain.is_final
    assert plain.nomFichier == "f.xml"
    fields = {"etatCourantDepotFlux", "dateDepotFlux", "dateHeureEtatCourantFlux"}
    assert plain.model_dump(include=fields) == detailed.model_dump(include=fields)


async def test_a_business_refusal_rejects_the_flux_with_chorus_text(
    emulator: FluxEmulator,
) -> None:
    case = with_service(with_number(SINGLE, "F2026-REJ-1"), "INCONNU")
    client = emulator.client
    deposit = await client.deposit_flux(
        SUPPLIER_1, document=cii_of(case), file_name="f.xml", syntax="IN_DP_E1_CII_16B"
    )
    emulator.clock.advance(PROCESSED)
    report = await client.flux_report(SUPPLIER_1, deposit.numeroFluxDepot)
    found = await client.search_supplier_invoices(SUPPLIER_1, flux_number=deposit.numeroFluxDepot)

    assert (report.etatCourantDepotFlux, report.is_final) == (FluxState.REJETE, True)
    [error] = report.listeErreurDP
    assert error.numeroDP == "F2026-REJ-1"
    assert error.libelleErreurDP is not None
    assert "INCONNU" in error.libelleErreurDP
    assert report.errors_for("F2026-REJ-1") == [error.libelleErreurDP]
    assert report.errors_for("F2026-000101") == []
    assert found == []


@pytest.mark.parametrize(
    ("document", "code"),
    [
        (
            b"<rsm:CrossIndustryInvoice><unclosed></rsm:CrossIndustryInvoice>",
            CODES.code_flux_unreadable,
        ),
        # Well-formed, but a UBL announced as CII: Chorus refuses the deposit too.
        (None, CODES.code_flux_syntax_mismatch),
    ],
    ids=["not well-formed", "not the announced syntax"],
)
async def test_an_unreadable_file_is_refused_at_deposit(
    emulator: FluxEmulator, document: bytes | None, code: int
) -> None:
    content = document if document is not None else write_ubl(SINGLE.document())
    with pytest.raises(ChorusRefusal) as caught:
        await emulator.client.deposit_flux(
            SUPPLIER_1, document=content, file_name="f.xml", syntax="IN_DP_E1_CII_16B"
        )
    assert type(caught.value) is ChorusRefusal
    assert (caught.value.endpoint, caught.value.status_code) == (DEPOSIT_FLUX, 200)
    assert caught.value.code == code
    assert caught.value.label
    assert await emulator.flux_records() == []


async def test_a_refusal_on_http_400_is_the_same_refusal() -> None:
    emulator = FluxEmulator(refusal_http_status=400)
    try:
        with pytest.raises(ChorusRefusal) as caught:
            await emulator.client.deposit_flux(
                SUPPLIER_1, document=b"not xml", file_name="f.xml", syntax="IN_DP_E1_CII_16B"
            )
    finally:
        await emulator.aclose()
    assert (caught.value.status_code, caught.value.code) == (400, CODES.code_flux_unreadable)


async def test_a_report_on_an_unknown_flux_is_a_refusal(emulator: FluxEmulator) -> None:
    with pytest.raises(ChorusRefusal) as caught:
        await emulator.client.flux_report(SUPPLIER_1, "CPP0000000000000000099999")
    assert caught.value.endpoint == DETAILED_FLUX_REPORT
    assert caught.value.code == CODES.code_flux_not_found


async def test_a_500_on_deposit_is_ambiguous_and_the_search_then_excludes_it(
    emulator: FluxEmulator,
) -> None:
    client = emulator.client
    await client.active_supplier_structures(SUPPLIER_1)  # the token, so the fault hits deposit
    await emulator.faults({"endpoint": DEPOSIT_FLUX, "kind": "http_500", "next_n": 1})
    with pytest.raises(ChorusAmbiguous) as caught:
        await client.deposit_flux(
            SUPPLIER_1, document=cii_of(SINGLE), file_name="f.xml", syntax="IN_DP_E1_CII_16B"
        )
    emulator.clock.advance(PROCESSED)
    number = SINGLE.draft.invoice_number
    found = await client.search_supplier_invoices(SUPPLIER_1, invoice_number=number)

    assert (caught.value.status_code, caught.value.endpoint) == (500, DEPOSIT_FLUX)
    # Nothing landed: a resend is safe and integrates the invoice once.
    assert found == []
    resent = await client.deposit_flux(
        SUPPLIER_1, document=cii_of(SINGLE), file_name="f.xml", syntax="IN_DP_E1_CII_16B"
    )
    emulator.clock.advance(PROCESSED)
    found = await client.search_supplier_invoices(SUPPLIER_1, invoice_number=number)
    assert [i.numeroFluxDepot for i in found] == [resent.numeroFluxDepot]


async def test_a_deposit_dropped_after_commit_is_ambiguous_and_found_by_number_later(
    emulator: FluxEmulator,
) -> None:
    client = emulator.client
    await client.active_supplier_structures(SUPPLIER_1)
    await emulator.faults({"endpoint": DEPOSIT_FLUX, "kind": "commit_then_drop", "next_n": 1})
    with pytest.raises(ChorusAmbiguous) as caught:
        await client.deposit_flux(
            SUPPLIER_1, document=cii_of(SINGLE), file_name="f.xml", syntax="IN_DP_E1_CII_16B"
        )
    emulator.clock.advance(PROCESSED)
    found = await client.search_supplier_invoices(
        SUPPLIER_1, invoice_number=SINGLE.draft.invoice_number
    )

    assert caught.value.endpoint == DEPOSIT_FLUX
    [invoice] = found
    [record] = await emulator.flux_records()
    # The search gives back the flux number the lost answer carried.
    assert invoice.numeroFluxDepot == record["number"]
    report = await client.flux_report(SUPPLIER_1, record["number"])
    assert report.etatCourantDepotFlux == FluxState.INTEGRE


@pytest.mark.parametrize(
    ("state", "final"),
    [
        ("IN_RECU", False),
        ("IN_EN_ATTENTE_RETRAITEMENT_CPP", False),
        ("IN_INTEGRE", True),
        ("IN_INTEGRE_PARTIEL", True),
        ("IN_REJETE", True),
        ("IN_INCIDENTE", True),
        ("QP_RECEVABLE", False),
    ],
)
def test_only_the_four_final_states_are_final(state: str, final: bool) -> None:
    report = FluxReport.model_validate({"codeRetour": 0, "etatCourantDepotFlux": state})
    assert report.is_final is final
    assert report.etatCourantDepotFlux == state


def test_a_report_without_a_state_is_unusable() -> None:
    with pytest.raises(ValueError, match="etatCourantDepotFlux"):
        FluxReport.model_validate({"codeRetour": 0, "listeErreurDP": []})


async def test_a_2xx_deposit_without_a_flux_number_is_ambiguous() -> None:
    piste = FakePiste(lambda r: httpx.Response(200, json={"codeRetour": 0, "libelle": "OK"}))
    async with client_for(piste) as client:
        with pytest.raises(ChorusAmbiguous, match="numeroFluxDepot"):
            await client.deposit_flux(
                SUPPLIER_1, document=b"<x/>", file_name="f.xml", syntax="IN_DP_E1_CII_16B"
            )
    [request] = piste.cpro_requests
    assert request.url.path == "/cpro/" + DEPOSIT_FLUX


async def test_an_undocumented_state_is_kept_as_text_and_not_final() -> None:
    answer = {"codeRetour": 0, "numeroFluxDepot": "CPP1", "etatCourantFlux": "QP_RECEVABLE"}
    piste = FakePiste(lambda r: httpx.Response(200, json=answer))
    async with client_for(piste) as client:
        report = await client.flux_report(SUPPLIER_1, "CPP1", detailed=False)
    assert report.etatCourantDepotFlux == "QP_RECEVABLE"
    assert not isinstance(report.etatCourantDepotFlux, FluxState)
    assert not report.is_final
    assert piste.cpro_requests[0].url.path == "/cpro/" + FLUX_REPORT


def test_a_deposit_body_has_chorus_names_and_says_unsigned() -> None:
    body = DepositFluxRequest(
        fichierFlux="PD94bWw+", nomFichier="f.xml", syntaxeFlux="IN_DP_E1_CII_16B"
    )
    assert to_json_bytes(body) == (
        b'{"fichierFlux":"PD94bWw+","nomFichier":"f.xml","syntaxeFlux":"IN_DP_E1_CII_16B",'
        b'"avecSignature":false}'
    )


def test_a_legacy_syntax_is_refused_before_it_leaves() -> None:
    with pytest.raises(ValidationError, match="syntaxeFlux"):
        DepositFluxRequest(fichierFlux="", nomFichier="f.xml", syntaxeFlux="IN_DP_E1_CII")


def test_the_flux_endpoints_are_the_names_emulator_faults_take() -> None:
    # Metrics, throttling and fault rules all key on these strings.
    assert {DEPOSIT_FLUX, FLUX_REPORT, DETAILED_FLUX_REPORT} <= ENDPOINTS


async def test_a_refused_deposit_is_counted_as_a_refusal(emulator: FluxEmulator) -> None:
    def refusals() -> float:
        labels = {"endpoint": DEPOSIT_FLUX, "outcome": "refusal"}
        return REGISTRY.get_sample_value("gateway_chorus_call_duration_seconds_count", labels) or 0

    before = refusals()
    with pytest.raises(ChorusRefusal):
        await emulator.client.deposit_flux(
            SUPPLIER_1, document=b"<a", file_name="f.xml", syntax="IN_DP_E1_CII_16B"
        )
    assert refusals() == before + 1


# --- over real HTTP: a read timeout only exists with sockets ----------------------------------


async def test_a_read_timeout_on_deposit_is_ambiguous(
    client: ChorusClient, control: httpx.AsyncClient
) -> None:
    await client.active_supplier_structures(SUPPLIER_1)
    await put_faults(
        control, {"endpoint": DEPOSIT_FLUX, "kind": "read_timeout", "next_n": 1, "delay_ms": 3000}
    )
    started = time.monotonic()
    with pytest.raises(ChorusAmbiguous, match="ReadTimeout"):
        await client.deposit_flux(
            SUPPLIER_1, document=cii_of(SINGLE), file_name="f.xml", syntax="IN_DP_E1_CII_16B"
        )
    assert time.monotonic() - started < READ_TIMEOUT + 1
