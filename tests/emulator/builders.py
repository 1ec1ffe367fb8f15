"""Valid Chorus payloads and the seeded accounts, with keyword overrides."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import httpx

from app.domain.identifiers import STATE_SIRET

SERVICE_REQUIRED_SIRET = "12345678200028"
EJ_REQUIRED_SIRET = "12345678200036"
EJ_OR_SERVICE_SIRET = "12345678200044"
NO_PARAMETER_SIRET = "12345678200051"
STATE_ID = 26000001


@dataclass(frozen=True)
class Account:
    """A seeded supplier and its technical account."""

    siret: str
    structure_id: int
    login: str
    password: str

    @property
    def cpro_account(self) -> str:
        """The `cpro-account` header value."""
        return base64.b64encode(f"{self.login}:{self.password}".encode()).decode()


ACME = Account("41234567010000", 26000101, "TECH_1_41234567010000@cpro.fr", "emulator-demo-1")
BETA = Account("52345678810009", 26000102, "TECH_1_52345678810009@cpro.fr", "emulator-demo-2")
CLIENT_FORM = {
    "grant_type": "client_credentials",
    "client_id": "gateway-dev",
    "client_secret": "gateway-dev-secret",
    "scope": "openid",
}


async def get_token(client: httpx.AsyncClient) -> str:
    """A bearer token from the emulator's PISTE endpoint."""
    response = await client.post("/api/oauth/token", data=CLIENT_FORM)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def login(client: httpx.AsyncClient, account: Account = ACME) -> dict[str, str]:
    """Headers for a Chorus call as `account`."""
    token = await get_token(client)
    return {"Authorization": f"Bearer {token}", "cpro-account": account.cpro_account}


def saisie_invoice(
    number: str | None = "F-2025-0001",
    *,
    supplier_id: int = ACME.structure_id,
    recipient: str = STATE_SIRET,
    service: str | None = "SFACETAT",
    ej: str | None = "0000048295",
    invoice_type: str = "FACTURE",
    original: str | None = None,
    unit_price: float = 50.0,
    quantity: float = 2,
    ht: float = 100.0,
    tva: float = 20.0,
    ttc: float = 120.0,
    **top: Any,
) -> dict[str, Any]:
    """A SAISIE_API soumettre body that the State accepts unless overridden."""
    body: dict[str, Any] = {
        "modeDepot": "SAISIE_API",
        "numeroFactureSaisi": number,
        "dateFacture": "2025-03-01",
        "idUtilisateurCourant": 0,
        "destinataire": {"codeDestinataire": recipient, "codeServiceExecutant": service},
        "fournisseur": {"idFournisseur": supplier_id},
        "cadreDeFacturation": {"codeCadreFacturation": "A1_FACTURE_FOURNISSEUR"},
        "references": {
            "deviseFacture": "EUR",
            "typeFacture": invoice_type,
            "typeTva": "TVA_SUR_DEBIT",
            "numeroBonCommande": ej,
            "numeroFactureOrigine": original,
            "modePaiement": None if invoice_type == "AVOIR" else "VIREMENT",
        },
        "lignePoste": [
            {
                "lignePosteNumero": 1,
                "lignePosteReference": "REF-1",
                "lignePosteDenomination": "Ramettes de papier",
                "lignePosteQuantite": quantity,
                "lignePosteUnite": "lot",
                "lignePosteMontantUnitaireHT": unit_price,
                "lignePosteTauxTvaManuel": 20,
            }
        ],
        "ligneTva": [
            {
                "ligneTvaTauxManuel": 20,
                "ligneTvaMontantBaseHtParTaux": ht,
                "ligneTvaMontantTvaParTaux": tva,
            }
        ],
        "montantTotal": {
            "montantHtTotal": ht,
            "montantTVA": tva,
            "montantTtcTotal": ttc,
            "montantAPayer": ttc,
        },
    }
    body.update(top)
    return body


def pdf_invoice(attachment_id: int | None, number: str = "F-PDF-0001", **kw: Any) -> dict[str, Any]:
    """A DEPOT_PDF_API soumettre body naming an uploaded PDF (no lines, like BIMP sends)."""
    body = saisie_invoice(number, **kw)
    body["modeDepot"] = "DEPOT_PDF_API"
    del body["lignePoste"]
    if attachment_id is not None:
        body["pieceJointePrincipale"] = [
            {
                "pieceJointePrincipaleDesignation": "Facture",
                "pieceJointePrincipaleId": attachment_id,
            }
        ]
    return body


def attachment(
    content: bytes = b"%PDF-1.7 test", name: str = "facture.pdf", **top: Any
) -> dict[str, Any]:
    """An ajouter/fichier body."""
    return {
        "pieceJointeFichier": base64.b64encode(content).decode(),
        "pieceJointeNom": name,
        "pieceJointeTypeMime": "application/pdf",
        "pieceJointeExtension": "PDF",
        **top,
    }
