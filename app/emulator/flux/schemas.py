"""Wire models of the flux channel: deposer/flux, consulterCR, consulterCRDetaille.

Field names from chorus-pro.md §2.2-2.3 (confidence [H]: CAPI, GO, PGF, TRY, OCA18).
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from app.emulator.schemas import Retour, WireIn


class DeposerFluxIn(WireIn):
    """Body of `factures/v1/deposer/flux`; the file is base64 inside the JSON."""

    fichierFlux: str
    nomFichier: str = Field(min_length=1)
    syntaxeFlux: str
    avecSignature: bool = False
    idUtilisateurCourant: int | None = None


class DeposerFluxOut(Retour):
    """Answer of `factures/v1/deposer/flux` on success."""

    numeroFluxDepot: str
    dateDepot: date
    syntaxeFlux: str


class ConsulterCRIn(WireIn):
    """Body of `transverses/v1/consulterCR` and `consulterCRDetaille`."""

    numeroFluxDepot: str
    dateDepot: date | None = None
    syntaxeFlux: str | None = None
    # PGF sends the syntax under this key.
    syntaxFluxType: str | None = None
    idUtilisateurCourant: int | None = None


class ConsulterCROut(Retour):
    """Answer of `transverses/v1/consulterCR` (no PDF report: `fichierCR` stays null)."""

    numeroFluxDepot: str
    etatCourantFlux: str
    dateDepotFlux: date
    dateHeureEtatCourantFlux: str
    nomFichierFlux: str
    codeInterfaceFlux: str
    codeAppliPartenaire: str | None = None
    designationPartenaire: str | None = None
    fichierCR: str | None = None


class ErreurDP(BaseModel):
    """One invoice of the flux that was not integrated, and why."""

    identifiantDestinataire: str | None
    identifiantFournisseur: str | None
    libelleErreurDP: str
    numeroDP: str | None


class ErreurTechnique(BaseModel):
    """A technical error of the flux (the emulator reports none once a flux is accepted)."""

    codeErreur: str
    libelleErreur: str
    natureErreur: str


class ConsulterCRDetailleOut(Retour):
    """Answer of `transverses/v1/consulterCRDetaille`."""

    numeroFluxDepot: str
    etatCourantDepotFlux: str
    dateDepotFlux: date
    dateHeureEtatCourantFlux: str
    nomFichier: str
    codeInterfaceDepotFlux: str
    listeErreurDP: list[ErreurDP]
    listeErreurTechnique: list[ErreurTechnique]
