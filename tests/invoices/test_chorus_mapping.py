"""A stored invoice mapped to `soumettre`: accepted or refused by the emulator as by Chorus."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.chorus.accounts import TechnicalAccount
from app.chorus.client import ChorusClient
from app.chorus.errors import ChorusDuplicate, ChorusRefusal
from app.chorus.schemas import SubmitInvoiceRequest
from app.invoices import repository
from app.invoices.chorus_mapping import UploadedPdf, to_submit_request
from app.invoices.models import Invoice
from app.settings import ApiSettings, Settings
from tests.builders import STATE_SIRET, SUPPLIER_SIRET, invoice_payload
from tests.conftest import emulator_chorus_settings
from tests.support.delivery import ACME_LOGIN, ACME_PASSWORD
from tests.support.emulators import sender_numbering_emulator  # noqa: F401 - a fixture, served_emulator

pytestmark = pytest.mark.usefixtures("registered_suppliers")

ACME = TechnicalAccount(login=ACME_LOGIN, password=ACME_PASSWORD)
ACME_STRUCTURE_ID = 26000101
QUALIFICATION_BUYERS = [STATE_SIRET, "12345678200028", "12345678200036", "12345678200044"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "api": ApiSettings(allowed_buyer_sirets=QUALIFICATION_BUYERS, online_validation=False)
        }
    )


@pytest.fixture
async def chorus(served_emulator: str, emulator: httpx.AsyncClient) -> ChorusClient:
    async with ChorusClient(emulator_chorus_settings(served_emulator)) as client:
        yield client  # type: ignore[misc]


Store = Callable[..., Awaitable[Invoice]]


@pytest.fixture
def store(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> Store:
    """Submit `invoice_payload(**overrides)` to the gateway; returns the invoice it stored."""

    async def stored(**overrides: Any) -> Invoice:
        response = await http.post("/v1/invoices", json=invoice_payload(**overrides), headers=auth)
        assert response.status_code == 201, response.text
        async with sessionmaker() as session:
            invoice = await repository.get(session, response.json()["id"])
        assert invoice is not None
        return invoice

    return stored


def acme_request(invoice: Invoice, pdf: UploadedPdf | None = None) -> SubmitInvoiceRequest:
    """What the gateway sends `soumettre` for this invoice of the demo supplier."""
    return to_submit_request(invoice, supplier_structure_id=ACME_STRUCTURE_ID, pdf=pdf)


async def test_a_valid_state_invoice_is_accepted_with_every_field_mapped(
    store: Store, chorus: ChorusClient, emulator: httpx.AsyncClient
) -> None:
    invoice = await store(note="Livraison du 20/11")
    request = acme_request(invoice)
    assert request.modeDepot == "SAISIE_API"
    assert request.references.numeroBonCommande == "1234567890"
    assert request.destinataire.codeServiceExecutant == "SFACETAT"
    result = await chorus.submit_invoice(ACME, request)
    assert result.statutFacture == "DEPOSEE"
    received = (await emulator.get("/_emulator/invoices")).json()
    [recorded] = received["invoices"]
    assert recorded["number"] == invoice.invoice_number
    assert recorded["supplier_siret"] == SUPPLIER_SIRET
    assert recorded["recipient_siret"] == STATE_SIRET
    assert recorded["service_code"] == "SFACETAT"
    assert recorded["type"] == "FACTURE"
    assert recorded["mode"] == "SAISIE_API"
    assert recorded["id"] == result.identifiantFactureCPP


async def test_a_credit_note_is_an_avoir_naming_its_origin(
    store: Store, chorus: ChorusClient
) -> None:
    invoice = await store(type="credit_note", preceding_invoice="F2026-000001")
    request = acme_request(invoice)
    assert request.references.typeFacture == "AVOIR"
    assert request.references.numeroFactureOrigine == "F2026-000001"
    # A refund carries no payment means (chorus-pro.md §6).
    assert request.references.modePaiement is None
    assert (await chorus.submit_invoice(ACME, request)).identifiantFactureCPP > 0


async def test_several_vat_rates_map_to_a_vat_breakdown_chorus_accepts(
    store: Store, chorus: ChorusClient
) -> None:
    lines = [
        {"description": "A", "quantity": "3", "unit_price": "0.335", "vat_rate": "20"},
        {"description": "B", "quantity": "1.5", "unit_price": "10", "vat_rate": "5.5"},
    ]
    invoice = await store(lines=lines, totals=None)
    request = acme_request(invoice)
    assert [line.ligneTvaTauxManuel for line in request.ligneTva] == [5.5, 20]
    assert (await chorus.submit_invoice(ACME, request)).identifiantFactureCPP > 0


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"buyer": {"siret": STATE_SIRET, "service_code": "SFACANCIEN"}}, 20302),
        ({"buyer": {"siret": STATE_SIRET, "service_code": "NOPE"}}, 20302),
        ({"buyer": {"siret": "12345678200036"}, "legal_commitment": None}, 20303),
        ({"buyer": {"siret": "12345678200028"}, "legal_commitment": None}, 20304),
        ({"buyer": {"siret": "12345678200044"}, "legal_commitment": None}, 20303),
    ],
)
async def test_what_chorus_refuses_and_offline_validation_cannot_see_is_refused(
    store: Store, chorus: ChorusClient, overrides: dict[str, Any], code: int
) -> None:
    invoice = await store(**overrides)
    with pytest.raises(ChorusRefusal) as refused:
        await chorus.submit_invoice(ACME, acme_request(invoice))
    assert refused.value.code == code


async def test_the_same_invoice_twice_is_a_duplicate(store: Store, chorus: ChorusClient) -> None:
    invoice = await store()
    request = acme_request(invoice)
    await chorus.submit_invoice(ACME, request)
    with pytest.raises(ChorusDuplicate):
        await chorus.submit_invoice(ACME, request)


async def test_a_pdf_invoice_is_sent_as_depot_pdf_api_with_its_attachment(
    store: Store, chorus: ChorusClient
) -> None:
    invoice = await store()
    attachment_id = await chorus.upload_attachment(
        ACME, "F2026.pdf", "application/pdf", b"%PDF-1.4\n%%EOF\n"
    )
    request = acme_request(invoice, UploadedPdf(attachment_id=attachment_id, name="F2026.pdf"))
    assert request.modeDepot == "DEPOT_PDF_API"
    assert (await chorus.submit_invoice(ACME, request)).identifiantFactureCPP > 0


async def test_payment_means_and_vat_regime_are_sent_with_the_peers_defaults(
    store: Store, chorus: ChorusClient
) -> None:
    invoice = await store()
    request = acme_request(invoice)
    references = request.model_dump(mode="json")["references"]
    assert references["modePaiement"] == "VIREMENT"
    assert references["typeTva"] == "TVA_SUR_DEBIT"
    assert references["motifExonerationTva"] is None
    assert (await chorus.submit_invoice(ACME, request)).identifiantFactureCPP > 0


async def test_an_exempt_invoice_paid_by_direct_debit_is_sent_as_such(
    store: Store, chorus: ChorusClient
) -> None:
    reason = "Exonération de TVA, article 261-4-4° du CGI"
    invoice = await store(
        lines=[{"description": "Formation", "quantity": "1", "unit_price": "900", "vat_rate": "0"}],
        totals=None,
        vat_regime="EXONERATION",
        vat_exemption_reason=reason,
        payment={"means": "PRELEVEMENT", "iban": "FR7630006000011234567890189"},
    )
    request = acme_request(invoice)
    references = request.model_dump(mode="json")["references"]
    assert references["modePaiement"] == "PRELEVEMENT"
    assert references["typeTva"] == "EXONERATION"
    assert references["motifExonerationTva"] == reason
    assert (await chorus.submit_invoice(ACME, request)).identifiantFactureCPP > 0


async def test_a_subcontractor_invoice_names_its_validator_structure(
    store: Store, chorus: ChorusClient
) -> None:
    invoice = await store(framework="A9_FACTURE_SOUSTRAITANT", validator_siret="12345678200051")
    request = acme_request(invoice)
    assert request.cadreDeFacturation.codeCadreFacturation == "A9_FACTURE_SOUSTRAITANT"
    assert request.cadreDeFacturation.codeStructureValideur == "12345678200051"
    assert (await chorus.submit_invoice(ACME, request)).identifiantFactureCPP > 0


async def test_the_contract_reference_goes_to_chorus_as_numero_marche(
    store: Store, chorus: ChorusClient, emulator: httpx.AsyncClient
) -> None:
    invoice = await store(contract_reference="MARCHE-2026-042")
    request = acme_request(invoice)
    assert request.references.numeroMarche == "MARCHE-2026-042"
    result = await chorus.submit_invoice(ACME, request)
    assert result.statutFacture == "DEPOSEE"
