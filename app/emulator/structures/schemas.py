"""Wire models of the Structures API, after the official swagger (SWG in chorus-pro.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.emulator.schemas import PaginationIn, ParametresRetour, Retour, WireIn

TypeIdentifiant = Literal[
    "SIRET", "UE_HORS_FRANCE", "HORS_UE", "RIDET", "TAHITI", "AUTRE", "PARTICULIER"
]


# --- rechercher --------------------------------------------------------------------------------


class CriteresStructure(WireIn):
    """The `structure` criteria of structures/v1/rechercher."""

    identifiantStructure: str | None = None
    typeIdentifiantStructure: TypeIdentifiant | None = None
    raisonSocialeStructure: str | None = None
    statutStructure: Literal["ACTIF", "INACTIF"] | None = None
    typeStructure: Literal["PRIVEE", "PUBLIQUE"] | None = None
    estMOA: bool | None = None
    estMOAUniquement: bool | None = None
    adresseCodePostal: str | None = None
    adresseVille: str | None = None
    adresseCodePays: str | None = None
    libelleStructure: str | None = None
    nomStructure: str | None = None
    prenomStructure: str | None = None


class RechercherStructureIn(WireIn):
    """Body of `structures/v1/rechercher`."""

    idUtilisateurCourant: int | None = None
    structure: CriteresStructure | None = None
    parametres: PaginationIn | None = None
    restreindreStructuresPrivees: bool | None = None


class StructureTrouvee(BaseModel):
    """One item of `listeStructures`."""

    idStructureCPP: int
    identifiantStructure: str
    typeIdentifiantStructure: str
    designationStructure: str
    statut: Literal["ACTIVE", "INACTIVE"]


class RechercherStructureOut(Retour):
    """Answer of `structures/v1/rechercher`."""

    listeStructures: list[StructureTrouvee]
    parametresRetour: ParametresRetour


# --- consulter ---------------------------------------------------------------------------------


class ConsulterStructureIn(WireIn):
    """Body of `structures/v1/consulter`."""

    idStructureCPP: int
    codeLangue: str | None = None
    idUtilisateurCourant: int | None = None


class AdressePostale(BaseModel):
    """A postal address (the emulator only knows postal code and city)."""

    adresse: str | None = None
    codePostal: str | None = None
    complementAdresse1: str | None = None
    complementAdresse2: str | None = None
    ville: str | None = None
    pays: str | None = None
    telephone: str | None = None
    indicatifTelephone: str | None = None
    fax: str | None = None
    indicatifFax: str | None = None


class InformationGenerales(BaseModel):
    """`informationGenerales` (sic, the swagger's spelling) of consulter."""

    idStructureCPP: int
    identifiantStructure: str
    typeIdentifiantStructure: str
    raisonSocialeStructure: str
    libelleStructure: str | None = None
    nomStructure: str | None = None
    prenomStructure: str | None = None
    emailStructure: str | None = None
    numeroTVA: str | None = None
    numeroRcsStructure: str | None = None
    structurePriveePublique: Literal["PRIVEE", "PUBLIQUE"]
    estValideurDeleguee: bool = False
    idStructureOrigine: int | None = None
    listeStructureDupliquees: list[dict[str, object]] = Field(default_factory=list)
    dateExpirationMotPasseCompteTech: str | None = None


class ParametresStructure(BaseModel):
    """The `parametres` flags that decide what an invoice to this structure must carry."""

    codeServiceDoitEtreRenseigne: bool
    numeroEJDoitEtreRenseigne: bool
    gestionNumeroEJOuCodeService: bool
    estMoaUniquement: bool = False
    getaMoa: bool = False
    connexionEDI: bool = False
    recevoirDonneesViaEDI: bool = False
    estValideurDelegue: bool = False
    nonDiffusibleInsee: bool = False
    statutMiseEnPaiementNestPasRemonte: bool


class ConsulterStructureOut(Retour):
    """Answer of `structures/v1/consulter`."""

    adressePostaleDuSiege: AdressePostale
    informationGenerales: InformationGenerales
    parametres: ParametresStructure


# --- rechercher/services -----------------------------------------------------------------------


class RechercherServicesIn(WireIn):
    """Body of `structures/v1/rechercher/services`."""

    idStructure: int
    idUtilisateurCourant: int | None = None
    parametresRechercherServicesStructure: PaginationIn | None = None


class ServiceTrouve(BaseModel):
    """One item of `listeServices`."""

    idService: int
    codeService: str
    libelleService: str
    estActif: bool
    statutService: Literal["ACTIF", "INACTIF"]
    dateDbtService: str | None = None
    dateFinService: str | None = None


class RechercherServicesOut(Retour):
    """Answer of `structures/v1/rechercher/services`."""

    listeServices: list[ServiceTrouve]
    parametresRetour: ParametresRetour


# --- consulter/service -------------------------------------------------------------------------


class ConsulterServiceIn(WireIn):
    """Body of `structures/v1/consulter/service`."""

    idStructure: int
    idService: int
    codeLangue: str | None = None
    idUtilisateurCourant: int | None = None


class InformationsGeneralesService(BaseModel):
    """`informationsGenerales` of consulter/service."""

    codeService: str
    nomService: str
    descriptionService: str | None = None


class ParametresService(BaseModel):
    """`parametres` of consulter/service; `numeroEngagement` means an EJ is mandatory."""

    numeroEngagement: bool
    miseEnPaiement: bool = False
    dateCreation: str | None = None
    dateDebutValidite: str | None = None
    dateFinValidite: str | None = None
    dateModification: str | None = None


class ConsulterServiceOut(Retour):
    """Answer of `structures/v1/consulter/service`."""

    adressePostale: AdressePostale
    informationsGenerales: InformationsGeneralesService
    parametres: ParametresService
