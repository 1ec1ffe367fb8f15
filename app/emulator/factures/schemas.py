"""Wire models of the Factures API: soumettre, rechercher/fournisseur, consulter, historique."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field

from app.emulator.schemas import Amount, PaginationIn, ParametresRetour, Retour, WireIn

CadreFacturationCode = Literal[
    "A1_FACTURE_FOURNISSEUR",
    "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE",
    "A3_MEMOIRE_JUSTICE",
    "A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR",
    "A5_ETAT_ACOMPTE_FOURNISSEUR",
    "A6_ETAT_ACOMPTE_VALIDE_FOURNISSEUR",
    "A7_PROJET_DECOMPTE_FINAL_FOURNISSEUR",
    "A8_DECOMPTE_GENERAL_DEFINITIF_FOURNISSEUR",
    "A9_FACTURE_SOUSTRAITANT",
    "A10_PROJET_DECOMPTE_MENSUEL_SOUSTRAITANT",
    "A11_PROJET_DECOMPTE_FINAL_SOUSTRAITANT",
    "A12_FACTURE_COTRAITANT",
    "A13_PROJET_DECOMPTE_MENSUEL_COTRAITANT",
    "A14_PROJET_DECOMPTE_FINAL_COTRAITANT",
    "A15_ETAT_ACOMPTE_MOE",
    "A16_ETAT_ACOMPTE_VALIDE_MOE",
    "A17_PROJET_DECOMPTE_GENERAL_MOE",
    "A18_DECOMPTE_GENERAL_MOE",
    "A19_ETAT_ACOMPTE_VALIDE_MOA",
    "A20_DECOMPTE_GENERAL_MOA",
    "A21_DEMANDE_REMBOURSEMENT_TIC",
    "A22_PROJET_DECOMPTE_GENERAL_FOURNISSEUR_PROCEDURE_TACITE",
    "A23_DECOMPTE_GENERAL_DEFINITIF_TACITE_FOURNISSEUR",
    "A24_DECOMPTE_GENERAL_DEFINITIF_TACITE_MOE",
    "A25_DECOMPTE_GENERAL_DEFINITIF_MOE_PROCEDURE_TACITE",
]
ModeDepot = Literal["SAISIE_API", "DEPOT_PDF_API", "DEPOT_PDF_SIGNE_API"]
TypeFacture = Literal["FACTURE", "AVOIR"]
TypeTva = Literal["TVA_SUR_DEBIT", "TVA_SUR_ENCAISSEMENT", "EXONERATION", "SANS_TVA"]
ModePaiement = Literal["CHEQUE", "PRELEVEMENT", "VIREMENT", "ESPECE", "AUTRE", "REPORT"]


def _parse_moment(value: object) -> object:
    # Clients send period bounds as a date, an ISO date-time or Chorus's "YYYY-MM-DD HH:MM".
    if isinstance(value, str) and len(value) == 10:
        return datetime.fromisoformat(value + "T00:00")
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace(" ", "T", 1))
    return value


Moment = Annotated[datetime, BeforeValidator(_parse_moment)]


# --- soumettre ---------------------------------------------------------------------------------


class Destinataire(WireIn):
    """The recipient: its SIRET and, when required, its service."""

    codeDestinataire: str
    codeServiceExecutant: str | None = None


class Fournisseur(WireIn):
    """The supplier, named by its Chorus id (`idStructureCPP`), not its SIRET."""

    idFournisseur: int
    idServiceFournisseur: int | None = None
    codeCoordonneesBancairesFournisseur: int | None = None


class CadreDeFacturation(WireIn):
    """The invoicing framework (A1 for a plain supplier invoice)."""

    codeCadreFacturation: CadreFacturationCode
    codeStructureValideur: str | None = None
    codeServiceValideur: str | None = None


class References(WireIn):
    """Currency, invoice type, VAT regime and the references (EJ goes in numeroBonCommande)."""

    deviseFacture: str = Field(pattern=r"^[A-Z]{3}$")
    typeFacture: TypeFacture
    typeTva: TypeTva | None = None
    motifExonerationTva: str | None = None
    numeroMarche: str | None = None
    numeroBonCommande: str | None = None
    numeroFactureOrigine: str | None = None
    modePaiement: ModePaiement | None = None


class LignePoste(WireIn):
    """One invoice line."""

    lignePosteNumero: int
    lignePosteReference: str | None = None
    lignePosteDenomination: str
    lignePosteQuantite: Amount
    lignePosteUnite: str | None = None
    lignePosteMontantUnitaireHT: Amount
    lignePosteMontantRemiseHT: Amount | None = None
    lignePosteTauxTva: str | None = None
    lignePosteTauxTvaManuel: Amount | None = None


class LigneTva(WireIn):
    """One line of the VAT breakdown."""

    ligneTvaTaux: str | None = None
    ligneTvaTauxManuel: Amount | None = None
    ligneTvaMontantBaseHtParTaux: Amount
    ligneTvaMontantTvaParTaux: Amount


class MontantTotal(WireIn):
    """The invoice totals."""

    montantHtTotal: Amount
    montantTVA: Amount
    montantTtcTotal: Amount
    montantRemiseGlobaleTTC: Amount | None = None
    motifRemiseGlobaleTTC: str | None = None
    montantAPayer: Amount


class PieceJointePrincipale(WireIn):
    """The invoice PDF, uploaded beforehand with ajouter/fichier."""

    pieceJointePrincipaleDesignation: str | None = None
    pieceJointePrincipaleId: int


class PieceJointeComplementaire(WireIn):
    """An extra attachment."""

    pieceJointeComplementaireDesignation: str | None = None
    pieceJointeComplementaireId: int
    pieceJointeComplementaireIdLiaison: int | None = None
    pieceJointeComplementaireNumeroLigneFacture: int | None = None
    pieceJointeComplementaireType: str | None = None


class SoumettreFactureIn(WireIn):
    """Body of `factures/v1/soumettre`."""

    modeDepot: ModeDepot
    numeroFactureSaisi: str | None = None
    dateFacture: date
    idUtilisateurCourant: int | None = None
    destinataire: Destinataire
    fournisseur: Fournisseur
    cadreDeFacturation: CadreDeFacturation
    references: References
    lignePoste: list[LignePoste] | None = None
    ligneTva: list[LigneTva] | None = None
    montantTotal: MontantTotal
    pieceJointePrincipale: list[PieceJointePrincipale] | None = None
    pieceJointeComplementaire: list[PieceJointeComplementaire] | None = None
    commentaire: str | None = None


class SoumettreFactureOut(Retour):
    """Answer of `factures/v1/soumettre` on success."""

    identifiantFactureCPP: int
    numeroFacture: str
    statutFacture: str
    dateDepot: date
    identifiantStructure: str
    empreinteCertificatDepot: str


# --- rechercher/fournisseur --------------------------------------------------------------------


class DestinataireRecherche(WireIn):
    """A recipient filter."""

    idDestinataire: int | None = None
    listeIdServiceExecutant: list[int] | None = None
    raisonSocialeStuctDmd: str | None = None


class CadreFacturationRecherche(WireIn):
    """A framework filter."""

    codeCadreFacturation: str | None = None
    codeStructureValideur: str | None = None
    codeServiceValideur: str | None = None


class RechercherFactureFournisseurIn(WireIn):
    """Body of `factures/v1/rechercher/fournisseur`; every filter is optional."""

    idUtilisateurCourant: int | None = None
    numeroFluxDepot: str | None = None
    numeroFacture: str | None = None
    typeFacture: TypeFacture | None = None
    statutCourant: list[str] | None = None
    idFournisseur: int | None = None
    idServiceFournisseur: int | None = None
    listeDestinataire: list[DestinataireRecherche] | None = None
    cadreFacturation: CadreFacturationRecherche | None = None
    modeDepot: str | None = None
    numeroBonCommande: str | None = None
    numeroMarche: str | None = None
    numeroFactureOrigine: str | None = None
    periodeDateDepotDu: date | None = None
    periodeDateDepotAu: date | None = None
    periodeDateFactureDu: date | None = None
    periodeDateFactureAu: date | None = None
    periodeDateHeureEtatCourantDu: Moment | None = None
    periodeDateHeureEtatCourantAu: Moment | None = None
    montantHTMin: Amount | None = None
    montantHTMax: Amount | None = None
    montantTTCMin: Amount | None = None
    montantTTCMax: Amount | None = None
    montantApayerMin: Amount | None = None
    montantApayerMax: Amount | None = None
    rejetTraite: bool | None = None
    recupererTaille: bool | None = None
    rechercheSirenDestinataire: bool | None = None
    idStructureValideur: int | None = None
    coordonneeBancaire: int | None = None
    idUtilisateurCreateur: list[int] | None = None
    rechercheFactureParFournisseur: PaginationIn | None = None


class FactureTrouvee(BaseModel):
    """One item of `listeFactures` (fields the emulator cannot know are null)."""

    identifiantFactureCPP: int
    numeroFacture: str
    typeDemandePaiement: str
    typeFacture: str
    numeroFluxDepot: str | None
    modeDepot: str
    codeFournisseur: str
    typeIdentifiantFournisseur: str
    designationFournisseur: str
    codeServiceFournisseur: str | None
    nomServiceFournisseur: str | None
    idDestinataire: int
    codeDestinataire: str
    designationDestinataire: str
    idServiceExecutant: int | None
    codeServiceExecutant: str | None
    nomServiceExecutant: str | None
    dateFacture: date
    dateDepot: date
    dateHeureEtatCourant: str
    montantHT: Amount
    montantTTC: Amount
    montantAPayer: Amount
    devise: str
    statut: str
    commentaireEtatCourant: str | None
    rejetTraite: bool
    numeroBonCommande: str | None
    numeroMarche: str | None
    numeroFactureOrigine: str | None
    nomPrenomUtilisateurCreateur: str | None
    taille: int | None


class RechercherFactureFournisseurOut(Retour):
    """Answer of `factures/v1/rechercher/fournisseur`."""

    parametresRetour: ParametresRetour
    listeFactures: list[FactureTrouvee]


# --- consulter/fournisseur ---------------------------------------------------------------------


class ConsulterFactureIn(WireIn):
    """Body of `factures/v1/consulter/fournisseur` (the paging sub-objects' names are [L])."""

    identifiantFactureCPP: int
    codeLangue: str | None = None
    idUtilisateurCourant: int | None = None
    pLignesPoste: dict[str, object] | None = None
    pListePiecesJointes: dict[str, object] | None = None
    pLigneRecapTva: dict[str, object] | None = None


class DestinataireConsulte(BaseModel):
    """The recipient as consulter/fournisseur shows it."""

    codeDestinataire: str
    codeServiceExecutant: str | None
    idDestinataire: int
    idServiceExecutant: int | None
    libelleDestinataire: str
    libelleServiceExecutant: str | None
    destinataireEtat: Literal["OUI", "NON"]


class FournisseurConsulte(BaseModel):
    """The supplier as consulter/fournisseur shows it."""

    idFournisseur: int
    codeFournisseur: str
    typeIdentifiantFournisseur: str
    raisonSocialeFournisseur: str
    idServiceFournisseur: int | None
    codeCoordonneesBancairesFournisseur: int | None


class PieceJointeConsultee(BaseModel):
    """One attachment of the invoice (the item field names are not confirmed)."""

    pieceJointeId: int
    pieceJointeDesignation: str | None
    pieceJointeType: Literal["PRINCIPALE", "COMPLEMENTAIRE"]


class LignesDePoste(BaseModel):
    """The invoice lines."""

    lignePoste: list[LignePoste]


class RecapitulatifDeTva(BaseModel):
    """The VAT breakdown."""

    ligneTva: list[LigneTva]


class ListeDesPiecesJointes(BaseModel):
    """The attachments."""

    pieceJointe: list[PieceJointeConsultee]


class FactureConsultee(BaseModel):
    """The `facture` object of consulter/fournisseur."""

    identifiantFactureCPP: int
    numeroFacture: str
    modeDepot: str
    statutFacture: str
    dateFacture: date
    dateDepot: date
    commentaire: str | None
    cadreDeFacturation: CadreDeFacturation
    destinataire: DestinataireConsulte
    fournisseur: FournisseurConsulte
    references: References
    montantTotal: MontantTotal
    lignesDePoste: LignesDePoste
    recapitulatifDeTva: RecapitulatifDeTva
    listeDesPiecesJointes: ListeDesPiecesJointes
    pieceJointePrincipale: list[PieceJointePrincipale]


class ConsulterFactureOut(Retour):
    """Answer of `factures/v1/consulter/fournisseur`."""

    facture: FactureConsultee


# --- consulter/historique ----------------------------------------------------------------------


class ParamRechercheHistoStatuts(WireIn):
    """Which page of the status history, sorted how (names from GO and a TS client, [L])."""

    nbResultatsParPageListeHistoStatut: int | None = Field(default=None, ge=1)
    pageResultatDemandeeListeHistoStatut: int | None = Field(default=None, ge=1)
    triColonneListeHistoStatut: str | None = None
    triSensListeHistoStatut: Literal["Ascendant", "Descendant"] | None = None


class ConsulterHistoriqueIn(WireIn):
    """Body of `factures/v1/consulter/historique` (paging object names from GO, [L])."""

    idFacture: int
    idUtilisateurCourant: int | None = None
    idEspace: int | None = None
    nbResultatsMaximum: int | None = Field(default=None, ge=1)
    paramRechercheHistoStatuts: ParamRechercheHistoStatuts | None = None
    paramRechercheHistoEvenementsComplementaires: dict[str, object] | None = None
    paramRechercheHistoActions: dict[str, object] | None = None


class HistoStatut(BaseModel):
    """One status the invoice went through."""

    histoStatutId: int
    histoStatutCode: str
    histoStatutDatePassage: str
    histoStatutCommentaire: str | None
    histoStatutUtilisateurNom: str | None = None
    histoStatutUtilisateurPrenom: str | None = None
    histoStatutUtilisateurEmail: str | None = None
    histoStatutUtilisateurTelephone: str | None = None


class HistoriquesDesStatuts(BaseModel):
    """One page of the status history, with where it sits among the pages (GO's names)."""

    histoStatut: list[HistoStatut]
    nbResultatsParPageHistoStatut: int
    pageCouranteHistoStatut: int
    pagesHistoStatut: int
    totalHistoStatut: int


class HistoriquesDesEvenementsComplementaires(BaseModel):
    """Extra events (the emulator records none)."""

    evenement: list[dict[str, object]] = Field(default_factory=list)


class HistoriquesDesActionsUtilisateurs(BaseModel):
    """User actions (the emulator records none)."""

    histoAction: list[dict[str, object]] = Field(default_factory=list)


class ConsulterHistoriqueOut(Retour):
    """Answer of `factures/v1/consulter/historique`."""

    idFacture: int
    numeroFacture: str
    modeDepot: str
    statutCourantCode: str
    historiquesDesStatuts: HistoriquesDesStatuts
    historiquesDesEvenementsComplementaires: HistoriquesDesEvenementsComplementaires
    historiquesDesActionsUtilisateurs: HistoriquesDesActionsUtilisateurs
