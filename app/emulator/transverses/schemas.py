"""Wire models of the Transverses API: attachments, the account's structures, health-check."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.emulator.schemas import Retour, WireIn


class AjouterFichierIn(WireIn):
    """Body of `transverses/v1/ajouter/fichier`; the file is base64 inside the JSON."""

    pieceJointeFichier: str
    pieceJointeNom: str
    pieceJointeTypeMime: str = Field(max_length=255)
    pieceJointeExtension: str
    idUtilisateurCourant: int | None = None


class AjouterFichierOut(Retour):
    """Answer of `transverses/v1/ajouter/fichier`."""

    pieceJointeId: int


class StructuresActivesIn(WireIn):
    """Body of `transverses/v1/recuperer/structures/actives/fournisseur` (usually `{}`)."""

    idUtilisateurCourant: int | None = None


class StructureActive(BaseModel):
    """One structure the technical account may invoice from."""

    idStructureCPP: int
    identifiant: str
    designationStructure: str


class StructuresActivesOut(Retour):
    """Answer of `transverses/v1/recuperer/structures/actives/fournisseur`."""

    listeStructures: list[StructureActive]
