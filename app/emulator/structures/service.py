"""Directory look-ups: structures, their flags and services, the caller's own structures."""

from __future__ import annotations

from app.emulator.auth import Caller
from app.emulator.directory import ServiceSpec, StructureSpec
from app.emulator.envelope import ChorusRefusal
from app.emulator.paging import descending, ensure_found, paginate
from app.emulator.runtime import Emulator
from app.emulator.structures.schemas import (
    AdressePostale,
    ConsulterServiceIn,
    ConsulterServiceOut,
    ConsulterStructureIn,
    ConsulterStructureOut,
    InformationGenerales,
    InformationsGeneralesService,
    ParametresService,
    ParametresStructure,
    RechercherServicesIn,
    RechercherServicesOut,
    RechercherStructureIn,
    RechercherStructureOut,
    ServiceTrouve,
    StructureTrouvee,
)
from app.emulator.transverses.schemas import StructureActive, StructuresActivesOut

STRUCTURE_SORT_KEYS = {
    "IdentifiantStructure": lambda s: s.identifier,
    "DesignationStructure": lambda s: s.designation,
    "TypeIdentifiantStructure": lambda s: s.identifier_type,
    "Statut": lambda s: str(not s.active),
}
SERVICE_SORT_KEYS = {
    "CodeService": lambda s: s.code,
    "LibelleService": lambda s: s.name,
    "EstActif": lambda s: str(s.active),
}


def _structure(emulator: Emulator, structure_id: int) -> StructureSpec:
    structure = emulator.store.directory.by_id(structure_id)
    if structure is None:
        raise ChorusRefusal(
            emulator.settings.code_structure_not_found, f"La structure {structure_id} n'existe pas."
        )
    return structure


def search_structures(emulator: Emulator, query: RechercherStructureIn) -> RechercherStructureOut:
    """Structures matching the criteria given, one page of them.

    `restreindreStructuresPrivees: true` is read as "leave private structures out"; the
    swagger does not say more.
    """
    wanted = query.structure
    found = []
    for spec in emulator.store.directory.all():
        if query.restreindreStructuresPrivees and not spec.public:
            continue
        if wanted is not None and not _structure_matches(wanted.model_dump(), spec):
            continue
        found.append(spec)
    ensure_found(found, emulator.settings)
    sort_key = STRUCTURE_SORT_KEYS.get((query.parametres and query.parametres.triColonne) or "")
    if sort_key is not None:
        found.sort(key=sort_key)
    if descending(query.parametres):
        found.reverse()
    page, summary = paginate(found, query.parametres)
    return RechercherStructureOut(
        libelle=emulator.settings.success_libelle,
        listeStructures=[
            StructureTrouvee(
                idStructureCPP=spec.id or 0,
                identifiantStructure=spec.identifier,
                typeIdentifiantStructure=spec.identifier_type,
                designationStructure=spec.designation,
                statut="ACTIVE" if spec.active else "INACTIVE",
            )
            for spec in page
        ],
        parametresRetour=summary,
    )


def _structure_matches(criteria: dict[str, object], spec: StructureSpec) -> bool:
    def contains(field: str, value: str | None) -> bool:
        needle = criteria.get(field)
        return needle is None or str(needle).casefold() in (value or "").casefold()

    checks = [
        criteria.get("identifiantStructure") in (None, spec.identifier),
        criteria.get("typeIdentifiantStructure") in (None, spec.identifier_type),
        criteria.get("statutStructure") in (None, "ACTIF" if spec.active else "INACTIF"),
        criteria.get("typeStructure") in (None, "PUBLIQUE" if spec.public else "PRIVEE"),
        criteria.get("adresseCodePostal") in (None, spec.postal_code),
        contains("raisonSocialeStructure", spec.designation),
        contains("libelleStructure", spec.designation),
        contains("adresseVille", spec.city),
    ]
    return all(checks)


def consult_structure(
    emulator: Emulator, caller: Caller, query: ConsulterStructureIn
) -> ConsulterStructureOut:
    """One structure's general information and `parametres` flags.

    `dateExpirationMotPasseCompteTech` is filled when the caller's own account is attached to
    the structure (whose password it would be otherwise is not documented).
    """
    spec = _structure(emulator, query.idStructureCPP)
    account = spec.technical_account
    expiry = (
        emulator.format_instant(account.password_expires_at)
        if account is not None
        and account.login == caller.login
        and account.password_expires_at is not None
        else None
    )
    return ConsulterStructureOut(
        libelle=emulator.settings.success_libelle,
        adressePostaleDuSiege=AdressePostale(
            codePostal=spec.postal_code, ville=spec.city, pays="FR" if spec.city else None
        ),
        informationGenerales=InformationGenerales(
            idStructureCPP=spec.id or 0,
            identifiantStructure=spec.identifier,
            typeIdentifiantStructure=spec.identifier_type,
            raisonSocialeStructure=spec.designation,
            libelleStructure=spec.designation,
            structurePriveePublique="PUBLIQUE" if spec.public else "PRIVEE",
            dateExpirationMotPasseCompteTech=expiry,
        ),
        parametres=ParametresStructure(
            codeServiceDoitEtreRenseigne=spec.service_required,
            numeroEJDoitEtreRenseigne=spec.ej_required,
            gestionNumeroEJOuCodeService=spec.ej_or_service_required,
            statutMiseEnPaiementNestPasRemonte=spec.payment_status_not_reported,
        ),
    )


def search_services(emulator: Emulator, query: RechercherServicesIn) -> RechercherServicesOut:
    """A structure's services (inactive ones included, flagged), one page of them."""
    spec = _structure(emulator, query.idStructure)
    paging = query.parametresRechercherServicesStructure
    column = (paging and paging.triColonne) or "CodeService"
    sort_key = SERVICE_SORT_KEYS.get(column, SERVICE_SORT_KEYS["CodeService"])
    services: list[ServiceSpec] = sorted(spec.services, key=sort_key)
    ensure_found(services, emulator.settings)
    if descending(paging):
        services.reverse()
    page, summary = paginate(services, paging)
    return RechercherServicesOut(
        libelle=emulator.settings.success_libelle,
        listeServices=[
            ServiceTrouve(
                idService=service.id or 0,
                codeService=service.code,
                libelleService=service.name,
                estActif=service.active,
                statutService="ACTIF" if service.active else "INACTIF",
            )
            for service in page
        ],
        parametresRetour=summary,
    )


def consult_service(emulator: Emulator, query: ConsulterServiceIn) -> ConsulterServiceOut:
    """One service of a structure, with its `numeroEngagement` (EJ mandatory) flag."""
    spec = _structure(emulator, query.idStructure)
    service = spec.service_by_id(query.idService)
    if service is None:
        raise ChorusRefusal(
            emulator.settings.code_structure_not_found,
            f"Le service {query.idService} n'existe pas pour la structure {query.idStructure}.",
        )
    return ConsulterServiceOut(
        libelle=emulator.settings.success_libelle,
        adressePostale=AdressePostale(codePostal=spec.postal_code, ville=spec.city),
        informationsGenerales=InformationsGeneralesService(
            codeService=service.code, nomService=service.name
        ),
        parametres=ParametresService(numeroEngagement=service.ej_required),
    )


def active_structures(emulator: Emulator, caller: Caller) -> StructuresActivesOut:
    """The supplier structures the caller's technical account may invoice from."""
    return StructuresActivesOut(
        libelle=emulator.settings.success_libelle,
        listeStructures=[
            StructureActive(
                idStructureCPP=spec.id or 0,
                identifiant=spec.identifier,
                designationStructure=spec.designation,
            )
            for spec in caller.structures
        ],
    )
