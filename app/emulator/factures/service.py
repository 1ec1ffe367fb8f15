"""Reading invoices back as their supplier: rechercher, consulter, historique."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from typing import TypeVar

from app.emulator.auth import Caller
from app.emulator.directory import ServiceSpec, StructureSpec
from app.emulator.envelope import ChorusRefusal
from app.emulator.factures.schemas import (
    ConsulterFactureIn,
    ConsulterFactureOut,
    ConsulterHistoriqueIn,
    ConsulterHistoriqueOut,
    DestinataireConsulte,
    FactureConsultee,
    FactureTrouvee,
    FournisseurConsulte,
    HistoriquesDesActionsUtilisateurs,
    HistoriquesDesEvenementsComplementaires,
    HistoriquesDesStatuts,
    HistoStatut,
    LignesDePoste,
    ListeDesPiecesJointes,
    ParamRechercheHistoStatuts,
    PieceJointeConsultee,
    RecapitulatifDeTva,
    RechercherFactureFournisseurIn,
    RechercherFactureFournisseurOut,
    SoumettreFactureIn,
)
from app.emulator.lifecycle import StatusEvent, current, visible
from app.emulator.paging import descending, ensure_found, paginate
from app.emulator.runtime import Emulator
from app.emulator.settings import EmulatorSettings
from app.emulator.store import InvoiceRecord

STATE_IDENTIFIER = "11000201100044"
Comparable = TypeVar("Comparable", date, Decimal)


def _within(low: Comparable | None, high: Comparable | None, value: Comparable) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _body(record: InvoiceRecord) -> SoumettreFactureIn:
    return SoumettreFactureIn.model_validate(record.request)


def _service_of(recipient: StructureSpec | None, record: InvoiceRecord) -> ServiceSpec | None:
    if recipient is None or record.service_id is None:
        return None
    return recipient.service_by_id(record.service_id)


def _owned(emulator: Emulator, caller: Caller, invoice_id: int) -> InvoiceRecord:
    """The caller's invoice, or the refusal Chorus gives for an unknown one."""
    record = emulator.store.invoice(invoice_id)
    if record is None or record.supplier_id not in caller.structure_ids:
        raise ChorusRefusal(
            emulator.settings.code_invoice_not_found, "La demande de paiement n'existe pas."
        )
    return record


def search_invoices(
    emulator: Emulator, caller: Caller, query: RechercherFactureFournisseurIn
) -> RechercherFactureFournisseurOut:
    """The caller's invoices matching every filter given, one page of them.

    Results come in `identifiantFactureCPP` order (reversed by `triSens: Descendant`); the
    `triColonne` values for invoices are not documented, so it is ignored.
    """
    now = emulator.now()
    found = [
        (record, body, status)
        for record in emulator.store.invoices()
        if record.supplier_id in caller.structure_ids
        for body, status in [(_body(record), current(record.events, now))]
        if _matches(emulator, query, record, body, status)
    ]
    ensure_found(found, emulator.settings)
    if descending(query.rechercheFactureParFournisseur):
        found.reverse()
    page, summary = paginate(found, query.rechercheFactureParFournisseur)
    return RechercherFactureFournisseurOut(
        libelle=emulator.settings.success_libelle,
        parametresRetour=summary,
        listeFactures=[_item(emulator, *entry) for entry in page],
    )


def _matches(
    emulator: Emulator,
    query: RechercherFactureFournisseurIn,
    record: InvoiceRecord,
    body: SoumettreFactureIn,
    status: StatusEvent,
) -> bool:
    references = body.references
    expected_and_actual: list[tuple[object, object]] = [
        # Only invoices that came through deposer/flux have one (None for soumettre).
        (query.numeroFluxDepot, record.flux_id),
        (query.numeroFacture, record.number),
        (query.typeFacture, record.invoice_type),
        (query.idFournisseur, record.supplier_id),
        (query.modeDepot, record.mode_depot),
        (query.numeroBonCommande, references.numeroBonCommande),
        (query.numeroMarche, references.numeroMarche),
        (query.numeroFactureOrigine, references.numeroFactureOrigine),
        (query.idServiceFournisseur, body.fournisseur.idServiceFournisseur),
        # The emulator never records a supplier acknowledging a rejection.
        (query.rejetTraite or None, False),
    ]
    if query.cadreFacturation is not None:
        expected_and_actual.append(
            (
                query.cadreFacturation.codeCadreFacturation,
                body.cadreDeFacturation.codeCadreFacturation,
            )
        )
    if any(expected is not None and expected != actual for expected, actual in expected_and_actual):
        return False
    if query.statutCourant and status.code not in query.statutCourant:
        return False
    if query.listeDestinataire and not any(
        (wanted.idDestinataire in (None, record.recipient_id))
        and (
            not wanted.listeIdServiceExecutant
            or record.service_id in wanted.listeIdServiceExecutant
        )
        for wanted in query.listeDestinataire
    ):
        return False
    totals = body.montantTotal
    changed_at = status.at.astimezone(emulator.zone).replace(tzinfo=None)
    return (
        _within(query.periodeDateDepotDu, query.periodeDateDepotAu, record.deposit_date)
        and _within(query.periodeDateFactureDu, query.periodeDateFactureAu, body.dateFacture)
        and _within(
            _naive(query.periodeDateHeureEtatCourantDu, emulator),
            _naive(query.periodeDateHeureEtatCourantAu, emulator),
            changed_at,
        )
        and _within(query.montantHTMin, query.montantHTMax, totals.montantHtTotal)
        and _within(query.montantTTCMin, query.montantTTCMax, totals.montantTtcTotal)
        and _within(query.montantApayerMin, query.montantApayerMax, totals.montantAPayer)
    )


def _naive(moment: datetime | None, emulator: Emulator) -> datetime | None:
    # Bounds without an offset are Chorus local time; compare everything as local wall time.
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(emulator.zone).replace(tzinfo=None)


def _item(
    emulator: Emulator, record: InvoiceRecord, body: SoumettreFactureIn, status: StatusEvent
) -> FactureTrouvee:
    directory = emulator.store.directory
    supplier = directory.by_id(record.supplier_id)
    recipient = directory.by_id(record.recipient_id)
    service = _service_of(recipient, record)
    return FactureTrouvee(
        identifiantFactureCPP=record.id,
        numeroFacture=record.number,
        typeDemandePaiement="FACTURE",
        typeFacture=record.invoice_type,
        numeroFluxDepot=record.flux_id,
        modeDepot=record.mode_depot,
        codeFournisseur=record.supplier_identifier,
        typeIdentifiantFournisseur=supplier.identifier_type if supplier else "SIRET",
        designationFournisseur=supplier.designation if supplier else record.supplier_identifier,
        codeServiceFournisseur=None,
        nomServiceFournisseur=None,
        idDestinataire=record.recipient_id,
        codeDestinataire=record.recipient_identifier,
        designationDestinataire=recipient.designation if recipient else record.recipient_identifier,
        idServiceExecutant=record.service_id,
        codeServiceExecutant=record.service_code,
        nomServiceExecutant=service.name if service else None,
        dateFacture=body.dateFacture,
        dateDepot=record.deposit_date,
        dateHeureEtatCourant=emulator.format_moment(status.at),
        montantHT=body.montantTotal.montantHtTotal,
        montantTTC=body.montantTotal.montantTtcTotal,
        montantAPayer=body.montantTotal.montantAPayer,
        devise=body.references.deviseFacture,
        statut=status.code,
        commentaireEtatCourant=status.comment,
        rejetTraite=False,
        numeroBonCommande=body.references.numeroBonCommande,
        numeroMarche=body.references.numeroMarche,
        numeroFactureOrigine=body.references.numeroFactureOrigine,
        nomPrenomUtilisateurCreateur=None,
        taille=None,
    )


def consult_invoice(
    emulator: Emulator, caller: Caller, query: ConsulterFactureIn
) -> ConsulterFactureOut:
    """One of the caller's invoices in full, with its current status."""
    record = _owned(emulator, caller, query.identifiantFactureCPP)
    body = _body(record)
    directory = emulator.store.directory
    supplier = directory.by_id(record.supplier_id)
    recipient = directory.by_id(record.recipient_id)
    service = _service_of(recipient, record)
    main = body.pieceJointePrincipale or []
    attachments = [
        PieceJointeConsultee(
            pieceJointeId=piece.pieceJointePrincipaleId,
            pieceJointeDesignation=piece.pieceJointePrincipaleDesignation,
            pieceJointeType="PRINCIPALE",
        )
        for piece in main
    ] + [
        PieceJointeConsultee(
            pieceJointeId=piece.pieceJointeComplementaireId,
            pieceJointeDesignation=piece.pieceJointeComplementaireDesignation,
            pieceJointeType="COMPLEMENTAIRE",
        )
        for piece in body.pieceJointeComplementaire or []
    ]
    facture = FactureConsultee(
        identifiantFactureCPP=record.id,
        numeroFacture=record.number,
        modeDepot=record.mode_depot,
        statutFacture=current(record.events, emulator.now()).code,
        dateFacture=body.dateFacture,
        dateDepot=record.deposit_date,
        commentaire=body.commentaire,
        cadreDeFacturation=body.cadreDeFacturation,
        destinataire=DestinataireConsulte(
            codeDestinataire=record.recipient_identifier,
            codeServiceExecutant=record.service_code,
            idDestinataire=record.recipient_id,
            idServiceExecutant=record.service_id,
            libelleDestinataire=recipient.designation if recipient else record.recipient_identifier,
            libelleServiceExecutant=service.name if service else None,
            destinataireEtat="OUI" if record.recipient_identifier == STATE_IDENTIFIER else "NON",
        ),
        fournisseur=FournisseurConsulte(
            idFournisseur=record.supplier_id,
            codeFournisseur=record.supplier_identifier,
            typeIdentifiantFournisseur=supplier.identifier_type if supplier else "SIRET",
            raisonSocialeFournisseur=supplier.designation if supplier else "",
            idServiceFournisseur=body.fournisseur.idServiceFournisseur,
            codeCoordonneesBancairesFournisseur=body.fournisseur.codeCoordonneesBancairesFournisseur,
        ),
        references=body.references,
        montantTotal=body.montantTotal,
        lignesDePoste=LignesDePoste(lignePoste=body.lignePoste or []),
        recapitulatifDeTva=RecapitulatifDeTva(ligneTva=body.ligneTva or []),
        listeDesPiecesJointes=ListeDesPiecesJointes(pieceJointe=attachments),
        pieceJointePrincipale=main,
    )
    return ConsulterFactureOut(libelle=emulator.settings.success_libelle, facture=facture)


def invoice_history(
    emulator: Emulator, caller: Caller, query: ConsulterHistoriqueIn
) -> ConsulterHistoriqueOut:
    """The statuses one of the caller's invoices went through so far."""
    record = _owned(emulator, caller, query.idFacture)
    events = visible(record.events, emulator.now())
    listed = _sorted_history(events, query.paramRechercheHistoStatuts, emulator.settings)
    if query.nbResultatsMaximum is not None:
        listed = listed[: query.nbResultatsMaximum]
    page, size, number = _history_page(listed, query.paramRechercheHistoStatuts, emulator.settings)
    return ConsulterHistoriqueOut(
        libelle=emulator.settings.success_libelle,
        idFacture=record.id,
        numeroFacture=record.number,
        modeDepot=record.mode_depot,
        statutCourantCode=events[-1].code,
        historiquesDesStatuts=HistoriquesDesStatuts(
            histoStatut=[
                HistoStatut(
                    histoStatutId=event.id,
                    histoStatutCode=event.code,
                    histoStatutDatePassage=emulator.format_moment(event.at),
                    histoStatutCommentaire=event.comment,
                )
                for event in page
            ],
            nbResultatsParPageHistoStatut=size,
            pageCouranteHistoStatut=number,
            pagesHistoStatut=math.ceil(len(listed) / size),
            totalHistoStatut=len(listed),
        ),
        historiquesDesEvenementsComplementaires=HistoriquesDesEvenementsComplementaires(),
        historiquesDesActionsUtilisateurs=HistoriquesDesActionsUtilisateurs(),
    )


def _sorted_history(
    events: list[StatusEvent], paging: ParamRechercheHistoStatuts | None, settings: EmulatorSettings
) -> list[StatusEvent]:
    """Oldest first (ties in the order they happened), or as `triColonne`/`triSens` ask."""
    column = paging.triColonneListeHistoStatut if paging else None
    direction = paging.triSensListeHistoStatut if paging else None
    listed = sorted(events, key=lambda e: e.code) if column == "HistoStatutCode" else list(events)
    newest_first = (
        direction == "Descendant" if direction else column is None and settings.history_newest_first
    )
    return list(reversed(listed)) if newest_first else listed


def _history_page(
    listed: list[StatusEvent], paging: ParamRechercheHistoStatuts | None, settings: EmulatorSettings
) -> tuple[list[StatusEvent], int, int]:
    """The page asked (capped at `history_page_size`), its size and number; all when unasked."""
    if paging is None:
        return listed, max(len(listed), 1), 1
    size = min(
        paging.nbResultatsParPageListeHistoStatut or settings.history_page_size,
        settings.history_page_size,
    )
    number = paging.pageResultatDemandeeListeHistoStatut or 1
    start = (number - 1) * size
    return listed[start : start + size], size, number
