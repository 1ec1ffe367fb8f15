"""The one place a stored invoice becomes Chorus Pro's `soumettre` payload (product.md mapping)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from app.chorus.codes import type_facture
from app.chorus.schemas import (
    CadreDeFacturation,
    Destinataire,
    Fournisseur,
    LignePoste,
    LigneTva,
    ModeDepot,
    ModePaiement,
    MontantTotal,
    PieceJointeComplementaire,
    PieceJointePrincipale,
    References,
    SubmitInvoiceRequest,
    TypeTva,
)
from app.domain.invoice import DEFAULT_VAT_REGIME, Line, vat_breakdown
from app.invoices.mapping import payment_means
from app.invoices.models import Invoice


@dataclass(frozen=True, slots=True)
class UploadedPdf:
    """The invoice PDF (or a supporting document) once `ajouter/fichier` gave it an id."""

    attachment_id: int
    name: str
    # A signed PDF goes as DEPOT_PDF_SIGNE_API.
    signed: bool = False


def _mode(pdf: UploadedPdf | None) -> ModeDepot:
    if pdf is None:
        return "SAISIE_API"
    return "DEPOT_PDF_SIGNE_API" if pdf.signed else "DEPOT_PDF_API"


def to_submit_request(
    invoice: Invoice,
    *,
    supplier_structure_id: int,
    pdf: UploadedPdf | None = None,
    attachments: Sequence[UploadedPdf] = (),
) -> SubmitInvoiceRequest:
    """The `factures/v1/soumettre` body for `invoice` (lines must be loaded), with its PDF and
    its supporting documents as uploaded."""
    lines = [
        Line(quantity=line.quantity, unit_price=line.unit_price, vat_rate=line.vat_rate)
        for line in invoice.lines
    ]
    return SubmitInvoiceRequest(
        modeDepot=_mode(pdf),
        numeroFactureSaisi=invoice.invoice_number,
        dateFacture=invoice.issue_date,
        destinataire=Destinataire(
            codeDestinataire=invoice.buyer_siret,
            codeServiceExecutant=invoice.buyer_service_code,
        ),
        fournisseur=Fournisseur(idFournisseur=supplier_structure_id),
        cadreDeFacturation=CadreDeFacturation(
            codeCadreFacturation=invoice.framework,
            codeStructureValideur=invoice.validator_siret,
        ),
        references=References(
            deviseFacture=invoice.currency,
            typeFacture=type_facture(invoice.type),
            # Both validated against Chorus's lists at submission.
            typeTva=cast(TypeTva, invoice.vat_regime or DEFAULT_VAT_REGIME),
            motifExonerationTva=invoice.vat_exemption_reason,
            numeroMarche=invoice.contract_reference,
            numeroBonCommande=invoice.legal_commitment,
            numeroFactureOrigine=invoice.preceding_invoice,
            modePaiement=cast(ModePaiement | None, payment_means(invoice)),
        ),
        lignePoste=[
            LignePoste(
                lignePosteNumero=line.position,
                lignePosteReference=line.reference,
                lignePosteDenomination=line.description,
                lignePosteQuantite=line.quantity,
                lignePosteUnite=line.unit,
                lignePosteMontantUnitaireHT=line.unit_price,
                lignePosteTauxTvaManuel=line.vat_rate,
            )
            for line in invoice.lines
        ],
        ligneTva=[
            LigneTva(
                ligneTvaTauxManuel=item.rate,
                ligneTvaMontantBaseHtParTaux=item.base,
                ligneTvaMontantTvaParTaux=item.vat,
            )
            for item in vat_breakdown(lines)
        ],
        montantTotal=MontantTotal(
            montantHtTotal=invoice.total_net,
            montantTVA=invoice.total_vat,
            montantTtcTotal=invoice.total_gross,
            montantAPayer=invoice.total_gross,
        ),
        pieceJointePrincipale=[
            PieceJointePrincipale(
                pieceJointePrincipaleDesignation=pdf.name,
                pieceJointePrincipaleId=pdf.attachment_id,
            )
        ]
        if pdf is not None
        else [],
        # BIMP sends the type as "" (chorus-pro.md §2.1).
        pieceJointeComplementaire=[
            PieceJointeComplementaire(
                pieceJointeComplementaireDesignation=attachment.name,
                pieceJointeComplementaireId=attachment.attachment_id,
                pieceJointeComplementaireType="",
            )
            for attachment in attachments
        ],
        commentaire=invoice.note,
    )
