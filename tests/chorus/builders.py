"""Plain builders for the Chorus client's tests: settings, accounts and valid invoices."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import SecretStr

from app.chorus.accounts import TechnicalAccount
from app.chorus.schemas import (
    Destinataire,
    Fournisseur,
    LignePoste,
    LigneTva,
    MontantTotal,
    PieceJointePrincipale,
    References,
    SubmitInvoiceRequest,
)
from app.domain.identifiers import STATE_SIRET
from app.settings import ChorusSettings

STATE_SERVICE = "SFACETAT"
NO_FLAGS_SIRET = "12345678200051"
SERVICE_REQUIRED_SIRET = "12345678200028"
SUPPLIER_1_SIRET = "41234567010000"
SUPPLIER_2_SIRET = "52345678810009"
SUPPLIER_1 = TechnicalAccount(
    login="TECH_1_41234567010000@cpro.fr", password=SecretStr("emulator-demo-1")
)
SUPPLIER_2 = TechnicalAccount(
    login="TECH_1_52345678810009@cpro.fr", password=SecretStr("emulator-demo-2")
)
CLIENT_ID = "gateway-dev"
CLIENT_SECRET = "gateway-dev-secret"

_numbers = itertools.count(1)


def chorus_settings(
    *,
    api_url: str = "http://emulator.test",
    token_url: str | None = None,
    client_id: str = CLIENT_ID,
    client_secret: str = CLIENT_SECRET,
    **overrides: Any,
) -> ChorusSettings:
    """Settings for the emulator at `api_url`, ignoring the environment and any `.env` file."""
    # Auth retries keep their default count, with pauses short enough for a test suite.
    overrides.setdefault("auth_retry_base_seconds", 0.001)
    return ChorusSettings(
        _env_file=None,
        target="emulator",
        api_url=api_url,
        token_url=token_url or f"{api_url}/api/oauth/token",
        client_id=client_id,
        client_secret=SecretStr(client_secret),
        **overrides,
    )


def invoice_number(prefix: str = "T") -> str:
    """A fresh invoice number (at most 20 characters, as Chorus wants)."""
    return f"{prefix}{next(_numbers):05d}-{date.today():%y%m%d}"


def saisie_invoice(
    supplier_id: int,
    *,
    number: str | None = None,
    recipient: str = STATE_SIRET,
    service: str | None = STATE_SERVICE,
    ej: str | None = "1234567890",
    invoice_type: str = "FACTURE",
    unit_price: Decimal = Decimal("100.10"),
    quantity: Decimal = Decimal("3"),
    **overrides: Any,
) -> SubmitInvoiceRequest:
    """A consistent `SAISIE_API` invoice: one line at 20 % VAT, totals that add up."""
    ht = (unit_price * quantity).quantize(Decimal("0.01"))
    vat = (ht * Decimal("0.20")).quantize(Decimal("0.01"))
    fields: dict[str, Any] = {
        "modeDepot": "SAISIE_API",
        "numeroFactureSaisi": number or invoice_number(),
        "dateFacture": date.today(),
        "destinataire": Destinataire(codeDestinataire=recipient, codeServiceExecutant=service),
        "fournisseur": Fournisseur(idFournisseur=supplier_id),
        "references": References(
            typeFacture=invoice_type,
            typeTva="TVA_SUR_DEBIT",
            numeroBonCommande=ej,
            modePaiement="VIREMENT",
        ),
        "lignePoste": [
            LignePoste(
                lignePosteNumero=1,
                lignePosteReference="REF-1",
                lignePosteDenomination="Prestation",
                lignePosteQuantite=quantity,
                lignePosteUnite="lot",
                lignePosteMontantUnitaireHT=unit_price,
                lignePosteTauxTvaManuel=Decimal("20"),
            )
        ],
        "ligneTva": [
            LigneTva(
                ligneTvaTauxManuel=Decimal("20"),
                ligneTvaMontantBaseHtParTaux=ht,
                ligneTvaMontantTvaParTaux=vat,
            )
        ],
        "montantTotal": MontantTotal(
            montantHtTotal=ht, montantTVA=vat, montantTtcTotal=ht + vat, montantAPayer=ht + vat
        ),
    }
    fields.update(overrides)
    return SubmitInvoiceRequest(**fields)


def pdf_invoice(supplier_id: int, attachment_id: int, **overrides: Any) -> SubmitInvoiceRequest:
    """A `DEPOT_PDF_API` invoice: totals and the uploaded PDF, no lines (as BIMP sends it)."""
    base = saisie_invoice(supplier_id, **overrides)
    return base.model_copy(
        update={
            "modeDepot": "DEPOT_PDF_API",
            "lignePoste": [],
            "ligneTva": [],
            "pieceJointePrincipale": [
                PieceJointePrincipale(
                    pieceJointePrincipaleDesignation="facture.pdf",
                    pieceJointePrincipaleId=attachment_id,
                )
            ],
        }
    )


PDF_BYTES = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
