"""The client's own wire models, with Chorus Pro's French field names (chorus-pro.md §2).

Requests forbid unknown fields so a typo fails here rather than being ignored by Chorus;
responses allow them, because Chorus returns far more than the gateway reads. French names stop
at this boundary: the rest of the product maps them once to its own English names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

# Chorus timestamps without an offset ("2016-10-25 17:42") are French local time.
CHORUS_TIMEZONE = ZoneInfo("Europe/Paris")

ModeDepot = Literal["SAISIE_API", "DEPOT_PDF_API", "DEPOT_PDF_SIGNE_API"]
TypeFacture = Literal["FACTURE", "AVOIR"]
TypeTva = Literal["TVA_SUR_DEBIT", "TVA_SUR_ENCAISSEMENT", "EXONERATION", "SANS_TVA"]
ModePaiement = Literal["CHEQUE", "PRELEVEMENT", "VIREMENT", "ESPECE", "AUTRE", "REPORT"]
TriSens = Literal["Ascendant", "Descendant"]

Amount = Annotated[Decimal, Field(allow_inf_nan=False)]


def _lenient_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def _lenient_datetime(value: Any) -> datetime | None:
    parsed: datetime | None = None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    elif isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    elif isinstance(value, int | Decimal) and not isinstance(value, bool):
        # Some Chorus services answer epoch milliseconds.
        return datetime.fromtimestamp(float(value) / 1000, UTC)
    if parsed is None:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=CHORUS_TIMEZONE)


# A date Chorus sends in an unexpected shape must not turn a success into a failure: it reads None.
ChorusDate = Annotated[date | None, BeforeValidator(_lenient_date)]
ChorusDateTime = Annotated[datetime | None, BeforeValidator(_lenient_datetime)]


class ChorusRequest(BaseModel):
    """Base of every request body."""

    model_config = ConfigDict(extra="forbid")


class ChorusResponse(BaseModel):
    """Base of every response: the `codeRetour`/`libelle` envelope plus whatever else came."""

    model_config = ConfigDict(extra="allow")

    codeRetour: int = 0
    libelle: str | None = None


class ChorusPart(BaseModel):
    """Base of nested response objects."""

    model_config = ConfigDict(extra="allow")


# --- factures/v1/soumettre -------------------------------------------------------------------


class Destinataire(ChorusRequest):
    """The recipient: SIRET and, when its flags demand it, the service code (SE)."""

    codeDestinataire: str
    codeServiceExecutant: str | None = None


class Fournisseur(ChorusRequest):
    """The supplier, by Chorus's internal `idStructureCPP` (not its SIRET)."""

    idFournisseur: int
    idServiceFournisseur: int | None = None
    codeCoordonneesBancairesFournisseur: int | None = None


class CadreDeFacturation(ChorusRequest):
    """The invoicing framework (A1 for a plain supplier invoice)."""

    codeCadreFacturation: str = "A1_FACTURE_FOURNISSEUR"
    codeStructureValideur: str | None = None
    codeServiceValideur: str | None = None


class References(ChorusRequest):
    """Currency, type, VAT regime and references; the EJ goes in `numeroBonCommande`."""

    deviseFacture: str = "EUR"
    typeFacture: TypeFacture = "FACTURE"
    typeTva: TypeTva = "TVA_SUR_DEBIT"
    motifExonerationTva: str | None = None
    numeroMarche: str | None = None
    numeroBonCommande: str | None = None
    numeroFactureOrigine: str | None = None
    modePaiement: ModePaiement | None = None


class LignePoste(ChorusRequest):
    """One invoice line (mandatory in `SAISIE_API`)."""

    lignePosteNumero: int
    lignePosteReference: str | None = None
    lignePosteDenomination: str
    lignePosteQuantite: Amount
    lignePosteUnite: str | None = None
    lignePosteMontantUnitaireHT: Amount
    lignePosteMontantRemiseHT: Amount | None = None
    lignePosteTauxTva: str | None = None
    lignePosteTauxTvaManuel: Amount | None = None


class LigneTva(ChorusRequest):
    """One line of the VAT breakdown."""

    ligneTvaTaux: str | None = None
    ligneTvaTauxManuel: Amount | None = None
    ligneTvaMontantBaseHtParTaux: Amount
    ligneTvaMontantTvaParTaux: Amount


class MontantTotal(ChorusRequest):
    """The invoice totals."""

    montantHtTotal: Amount
    montantTVA: Amount
    montantTtcTotal: Amount
    montantRemiseGlobaleTTC: Amount | None = None
    motifRemiseGlobaleTTC: str | None = None
    montantAPayer: Amount


class PieceJointePrincipale(ChorusRequest):
    """The invoice PDF of a `DEPOT_PDF_API` submission, by its `pieceJointeId`."""

    pieceJointePrincipaleDesignation: str
    pieceJointePrincipaleId: int


class PieceJointeComplementaire(ChorusRequest):
    """An extra attachment, by its `pieceJointeId`."""

    pieceJointeComplementaireDesignation: str
    pieceJointeComplementaireId: int
    pieceJointeComplementaireIdLiaison: int | None = None
    pieceJointeComplementaireNumeroLigneFacture: int | None = None
    pieceJointeComplementaireType: str | None = None


class SubmitInvoiceRequest(ChorusRequest):
    """The body of `factures/v1/soumettre` (`SoumettreFacture`)."""

    modeDepot: ModeDepot = "SAISIE_API"
    numeroFactureSaisi: str | None = None
    dateFacture: date
    idUtilisateurCourant: int | None = None
    destinataire: Destinataire
    fournisseur: Fournisseur
    cadreDeFacturation: CadreDeFacturation = Field(default_factory=CadreDeFacturation)
    references: References = Field(default_factory=References)
    lignePoste: list[LignePoste] = Field(default_factory=list)
    ligneTva: list[LigneTva] = Field(default_factory=list)
    montantTotal: MontantTotal
    # An array, not an object (chorus-pro.md §2.1: GO's single object is a bug).
    pieceJointePrincipale: list[PieceJointePrincipale] = Field(default_factory=list)
    pieceJointeComplementaire: list[PieceJointeComplementaire] = Field(default_factory=list)
    commentaire: str | None = None


class SubmitInvoiceResponse(ChorusResponse):
    """A definite success of `soumettre`: Chorus's invoice id is what every later call uses."""

    identifiantFactureCPP: int
    numeroFacture: str | None = None
    statutFacture: str | None = None
    dateDepot: ChorusDate = None
    identifiantStructure: str | None = None
    empreinteCertificatDepot: str | None = None


# --- transverses/v1/ajouter/fichier ----------------------------------------------------------


class UploadAttachmentRequest(ChorusRequest):
    """The body of `transverses/v1/ajouter/fichier` (`ajouterFichierDansSysteme`)."""

    pieceJointeFichier: str
    pieceJointeNom: str
    pieceJointeTypeMime: str
    pieceJointeExtension: str
    idUtilisateurCourant: int | None = None


class UploadAttachmentResponse(ChorusResponse):
    """The stored file's id, to be named in `pieceJointePrincipale` or `...Complementaire`."""

    pieceJointeId: int


# --- factures/v1/deposer/flux and the transverses flux reports ------------------------------

# The syntaxes the gateway deposits (formats.md §1); Chorus knows legacy ones it should not get.
FluxSyntax = Literal["IN_DP_E1_CII_16B", "IN_DP_E1_UBL_INVOICE", "IN_DP_E2_CII_FACTURX"]


class FluxState(StrEnum):
    """`etatCourantDepotFlux` / `etatCourantFlux` values Chorus documents (chorus-pro.md §4)."""

    RECU = "IN_RECU"
    TRAITE_SE_CPP = "IN_TRAITE_SE_CPP"
    EN_ATTENTE_TRAITEMENT_CPP = "IN_EN_ATTENTE_TRAITEMENT_CPP"
    EN_COURS_TRAITEMENT_CPP = "IN_EN_COURS_TRAITEMENT_CPP"
    EN_ATTENTE_RETRAITEMENT_CPP = "IN_EN_ATTENTE_RETRAITEMENT_CPP"
    INTEGRE = "IN_INTEGRE"
    INTEGRE_PARTIEL = "IN_INTEGRE_PARTIEL"
    REJETE = "IN_REJETE"
    INCIDENTE = "IN_INCIDENTE"


# No further change comes after these; IN_INCIDENTE means the whole flux must be sent again.
FINAL_FLUX_STATES = frozenset(
    {FluxState.INTEGRE, FluxState.INTEGRE_PARTIEL, FluxState.REJETE, FluxState.INCIDENTE}
)


def _flux_state(value: Any) -> Any:
    # A state Chorus has not documented (QP_RECEVABLE...) stays a plain string, never final.
    if isinstance(value, str) and value.strip() in FluxState._value2member_map_:
        return FluxState(value.strip())
    return value


FluxStateValue = Annotated[FluxState | str, BeforeValidator(_flux_state)]


class DepositFluxRequest(ChorusRequest):
    """The body of `factures/v1/deposer/flux` (`DeposerFluxFacture`): the file in base64."""

    fichierFlux: str
    nomFichier: str
    syntaxeFlux: FluxSyntax
    avecSignature: bool = False
    idUtilisateurCourant: int | None = None


class FluxDeposit(ChorusResponse):
    """A definite deposit: the flux number is what its report and the search by flux take."""

    numeroFluxDepot: str = Field(min_length=1)
    dateDepot: ChorusDate = None
    syntaxeFlux: str | None = None


class FluxReportRequest(ChorusRequest):
    """The body of `transverses/v1/consulterCR` and `consulterCRDetaille`."""

    numeroFluxDepot: str
    syntaxeFlux: FluxSyntax | None = None


class FluxInvoiceError(ChorusPart):
    """One invoice of a flux that Chorus did not integrate; `numeroDP` is its own number."""

    numeroDP: str | None = None
    libelleErreurDP: str | None = None
    identifiantFournisseur: str | None = None
    identifiantDestinataire: str | None = None


class FluxTechnicalError(ChorusPart):
    """A technical error of a flux (`listeErreurTechnique`)."""

    codeErreur: str | None = None
    libelleErreur: str | None = None
    natureErreur: str | None = None


class FluxReport(ChorusResponse):
    """The answer of `consulterCRDetaille`: the flux's state and what it could not integrate.

    `consulterCR` answers the same facts under other names (`etatCourantFlux`,
    `nomFichierFlux`, `codeInterfaceFlux`) and without the error lists; the client maps it here.
    """

    numeroFluxDepot: str | None = None
    etatCourantDepotFlux: FluxStateValue
    dateDepotFlux: ChorusDate = None
    dateHeureEtatCourantFlux: ChorusDateTime = None
    nomFichier: str | None = None
    codeInterfaceDepotFlux: str | None = None
    listeErreurDP: list[FluxInvoiceError] = Field(default_factory=list)
    listeErreurTechnique: list[FluxTechnicalError] = Field(default_factory=list)

    @property
    def is_final(self) -> bool:
        """Whether the flux is done: integrated (wholly or partly), rejected or incidented."""
        return self.etatCourantDepotFlux in FINAL_FLUX_STATES

    def errors_for(self, invoice_number: str) -> list[str]:
        """Chorus's texts for one invoice of the flux, by the document's own number."""
        return [
            error.libelleErreurDP
            for error in self.listeErreurDP
            if error.numeroDP == invoice_number and error.libelleErreurDP
        ]


class FluxStateResponse(ChorusResponse):
    """The answer of `consulterCR` (its `fichierCR` PDF report is not read)."""

    numeroFluxDepot: str | None = None
    etatCourantFlux: FluxStateValue
    dateDepotFlux: ChorusDate = None
    dateHeureEtatCourantFlux: ChorusDateTime = None
    nomFichierFlux: str | None = None
    codeInterfaceFlux: str | None = None

    def as_report(self) -> FluxReport:
        """The same facts under `consulterCRDetaille`'s names, with no error lists."""
        return FluxReport(
            codeRetour=self.codeRetour,
            libelle=self.libelle,
            numeroFluxDepot=self.numeroFluxDepot,
            etatCourantDepotFlux=self.etatCourantFlux,
            dateDepotFlux=self.dateDepotFlux,
            dateHeureEtatCourantFlux=self.dateHeureEtatCourantFlux,
            nomFichier=self.nomFichierFlux,
            codeInterfaceDepotFlux=self.codeInterfaceFlux,
        )


# --- pagination ------------------------------------------------------------------------------


class PageRequest(ChorusRequest):
    """Which page to return; Chorus's default page size is 10."""

    nbResultatsParPage: int
    pageResultatDemandee: int
    triColonne: str | None = None
    triSens: TriSens | None = None


class PageResult(ChorusPart):
    """`parametresRetour`: where this page sits among all of them."""

    nbResultatsParPage: int | None = None
    pageCourante: int | None = None
    pages: int | None = None
    total: int | None = None


class PagedResponse(ChorusResponse):
    """A response carrying one page of results."""

    parametresRetour: PageResult | None = None


# --- factures/v1/rechercher/fournisseur ------------------------------------------------------


class SearchSupplierInvoicesRequest(ChorusRequest):
    """The body of `factures/v1/rechercher/fournisseur`; every filter is optional."""

    numeroFacture: str | None = None
    numeroFluxDepot: str | None = None
    typeFacture: TypeFacture | None = None
    statutCourant: list[str] | None = None
    idFournisseur: int | None = None
    idServiceFournisseur: int | None = None
    numeroBonCommande: str | None = None
    periodeDateDepotDu: date | None = None
    periodeDateDepotAu: date | None = None
    rechercheFactureParFournisseur: PageRequest | None = None


class InvoiceSummary(ChorusPart):
    """One invoice in a supplier search result."""

    identifiantFactureCPP: int
    numeroFacture: str | None = None
    typeFacture: str | None = None
    typeDemandePaiement: str | None = None
    statut: str | None = None
    commentaireEtatCourant: str | None = None
    rejetTraite: bool | None = None
    dateFacture: ChorusDate = None
    dateDepot: ChorusDate = None
    dateHeureEtatCourant: ChorusDateTime = None
    codeFournisseur: str | None = None
    designationFournisseur: str | None = None
    idDestinataire: int | None = None
    codeDestinataire: str | None = None
    designationDestinataire: str | None = None
    codeServiceExecutant: str | None = None
    nomServiceExecutant: str | None = None
    montantHT: Decimal | None = None
    montantTTC: Decimal | None = None
    montantAPayer: Decimal | None = None
    devise: str | None = None
    numeroFluxDepot: str | None = None
    modeDepot: str | None = None
    numeroBonCommande: str | None = None
    numeroMarche: str | None = None
    numeroFactureOrigine: str | None = None


class SearchSupplierInvoicesResponse(PagedResponse):
    """One page of `rechercher/fournisseur`."""

    listeFactures: list[InvoiceSummary] = Field(default_factory=list)


# --- factures/v1/consulter/fournisseur and consulter/historique ------------------------------


class ConsultInvoiceRequest(ChorusRequest):
    """The body of `factures/v1/consulter/fournisseur`."""

    identifiantFactureCPP: int
    codeLangue: str | None = None


class InvoiceTotals(ChorusPart):
    """`facture.montantTotal`."""

    montantHtTotal: Decimal | None = None
    montantTVA: Decimal | None = None
    montantTtcTotal: Decimal | None = None
    montantAPayer: Decimal | None = None


class InvoiceDetail(ChorusPart):
    """`facture` of `consulter/fournisseur`: the invoice as Chorus holds it."""

    identifiantFactureCPP: int | None = None
    numeroFacture: str | None = None
    statutFacture: str | None = None
    modeDepot: str | None = None
    commentaire: str | None = None
    dateFacture: ChorusDate = None
    dateDepot: ChorusDate = None
    destinataire: dict[str, Any] | None = None
    fournisseur: dict[str, Any] | None = None
    references: dict[str, Any] | None = None
    cadreDeFacturation: dict[str, Any] | None = None
    montantTotal: InvoiceTotals | None = None


class ConsultInvoiceResponse(ChorusResponse):
    """The answer of `consulter/fournisseur`."""

    facture: InvoiceDetail


class HistoryPageRequest(ChorusRequest):
    """`paramRechercheHistoStatuts`: which page of the status history (names from GO, [L])."""

    nbResultatsParPageListeHistoStatut: int
    pageResultatDemandeeListeHistoStatut: int
    triColonneListeHistoStatut: Literal["HistoStatutDatePassage", "HistoStatutCode"] | None = None
    triSensListeHistoStatut: TriSens | None = None


class InvoiceHistoryRequest(ChorusRequest):
    """The body of `factures/v1/consulter/historique`."""

    idFacture: int
    # "Most results returned" (PGF); Chorus's default is said to be 200.
    nbResultatsMaximum: int | None = None
    paramRechercheHistoStatuts: HistoryPageRequest | None = None


class HistoStatut(ChorusPart):
    """One status change as Chorus reports it."""

    histoStatutId: int | None = None
    histoStatutCode: str
    histoStatutDatePassage: ChorusDateTime = None
    histoStatutCommentaire: str | None = None


class HistoriquesDesStatuts(ChorusPart):
    """`historiquesDesStatuts`: one page of statuses and where it sits among the pages."""

    histoStatut: list[HistoStatut] = Field(default_factory=list)
    nbResultatsParPageHistoStatut: int | None = None
    pageCouranteHistoStatut: int | None = None
    pagesHistoStatut: int | None = None
    totalHistoStatut: int | None = None


class InvoiceHistoryResponse(ChorusResponse):
    """The answer of `consulter/historique`."""

    idFacture: int | None = None
    numeroFacture: str | None = None
    modeDepot: str | None = None
    statutCourantCode: str | None = None
    historiquesDesStatuts: HistoriquesDesStatuts | None = None


class StatusChange(BaseModel):
    """One status change, oldest first; `comment` carries a rejection or suspension reason."""

    model_config = ConfigDict(frozen=True)

    code: str
    at: datetime | None = None
    comment: str | None = None


class InvoiceHistory(BaseModel):
    """An invoice's status history, read from `consulter/historique`."""

    model_config = ConfigDict(frozen=True)

    invoice_id: int
    invoice_number: str | None = None
    current_status: str | None = None
    changes: list[StatusChange] = Field(default_factory=list)


# --- structures ------------------------------------------------------------------------------


class StructureCriteria(ChorusRequest):
    """`structure` criteria of `structures/v1/rechercher`."""

    identifiantStructure: str | None = None
    typeIdentifiantStructure: str | None = "SIRET"
    raisonSocialeStructure: str | None = None
    statutStructure: Literal["ACTIF", "INACTIF"] | None = None


class SearchStructuresRequest(ChorusRequest):
    """The body of `structures/v1/rechercher`."""

    structure: StructureCriteria
    parametres: PageRequest | None = None
    restreindreStructuresPrivees: bool | None = None


class StructureSummary(ChorusPart):
    """One structure of a search result."""

    idStructureCPP: int
    identifiantStructure: str | None = None
    typeIdentifiantStructure: str | None = None
    designationStructure: str | None = None
    statut: str | None = None


class SearchStructuresResponse(PagedResponse):
    """One page of `structures/v1/rechercher`."""

    listeStructures: list[StructureSummary] = Field(default_factory=list)


class ConsultStructureRequest(ChorusRequest):
    """The body of `structures/v1/consulter` (`idStructureCPP`, not GO's `idStructure`)."""

    idStructureCPP: int
    codeLangue: str = "FR"


class StructureGeneralInfo(ChorusPart):
    """`informationGenerales` of a structure."""

    idStructureCPP: int | None = None
    identifiantStructure: str | None = None
    typeIdentifiantStructure: str | None = None
    raisonSocialeStructure: str | None = None
    libelleStructure: str | None = None
    emailStructure: str | None = None
    numeroTVA: str | None = None
    structurePriveePublique: str | None = None
    # The technical account's password expires; OCA warns 15 days ahead.
    dateExpirationMotPasseCompteTech: ChorusDateTime = None


class StructureFlags(ChorusPart):
    """`parametres` of a structure: what an invoice to it must carry."""

    codeServiceDoitEtreRenseigne: bool = False
    numeroEJDoitEtreRenseigne: bool = False
    gestionNumeroEJOuCodeService: bool = False
    estMoaUniquement: bool = False
    getaMoa: bool = False
    connexionEDI: bool = False
    recevoirDonneesViaEDI: bool = False
    estValideurDelegue: bool = False
    nonDiffusibleInsee: bool = False
    statutMiseEnPaiementNestPasRemonte: bool = False


class ConsultStructureResponse(ChorusResponse):
    """The answer of `structures/v1/consulter`."""

    informationGenerales: StructureGeneralInfo | None = None
    parametres: StructureFlags = Field(default_factory=StructureFlags)
    adressePostaleDuSiege: dict[str, Any] | None = None


class SearchServicesRequest(ChorusRequest):
    """The body of `structures/v1/rechercher/services`."""

    idStructure: int
    parametresRechercherServicesStructure: PageRequest | None = None


class ServiceSummary(ChorusPart):
    """One service of a structure."""

    idService: int
    codeService: str
    libelleService: str | None = None
    estActif: bool | None = None
    statutService: str | None = None
    dateDbtService: ChorusDateTime = None
    dateFinService: ChorusDateTime = None


class SearchServicesResponse(PagedResponse):
    """One page of `structures/v1/rechercher/services`."""

    listeServices: list[ServiceSummary] = Field(default_factory=list)


class ConsultServiceRequest(ChorusRequest):
    """The body of `structures/v1/consulter/service`."""

    idStructure: int
    idService: int
    codeLangue: str = "FR"


class ServiceGeneralInfo(ChorusPart):
    """`informationsGenerales` of a service."""

    codeService: str | None = None
    nomService: str | None = None
    descriptionService: str | None = None


class ServiceParameters(ChorusPart):
    """`parametres` of a service; `numeroEngagement` means the EJ is mandatory for it."""

    numeroEngagement: bool = False
    miseEnPaiement: bool | None = None
    dateCreation: ChorusDateTime = None
    dateDebutValidite: ChorusDateTime = None
    dateFinValidite: ChorusDateTime = None
    dateModification: ChorusDateTime = None


class ConsultServiceResponse(ChorusResponse):
    """The answer of `structures/v1/consulter/service`."""

    informationsGenerales: ServiceGeneralInfo | None = None
    parametres: ServiceParameters = Field(default_factory=ServiceParameters)
    adressePostale: dict[str, Any] | None = None


class ActiveStructure(ChorusPart):
    """A structure the technical account may invoice from."""

    idStructureCPP: int
    identifiant: str | None = None
    designationStructure: str | None = None


class ActiveStructuresResponse(ChorusResponse):
    """The answer of `transverses/v1/recuperer/structures/actives/fournisseur`."""

    listeStructures: list[ActiveStructure] = Field(default_factory=list)


# --- JSON encoding ---------------------------------------------------------------------------


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("Chorus amounts must be finite numbers")
        # Written as the decimal's own digits: a JSON number, never a string or a binary float.
        return format(value, "f")
    if isinstance(value, datetime | date):
        return json.dumps(value.isoformat())
    if isinstance(value, Mapping):
        # Empty arrays are left out like None: "no lines" is said by absence, as peer clients do.
        members = (
            f"{json.dumps(str(key), ensure_ascii=False)}:{_encode(item)}"
            for key, item in value.items()
            if item != []
        )
        return "{" + ",".join(members) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def to_json_bytes(body: BaseModel | Mapping[str, Any]) -> bytes:
    """UTF-8 JSON of a request body: exact decimal numbers; None and empty lists left out."""
    data = (
        body.model_dump(mode="python", exclude_none=True) if isinstance(body, BaseModel) else body
    )
    return _encode(data).encode("utf-8")
