"""The invoices a qualification run creates: unmistakably marked, small, one of each channel.

Pure. Numbers are `QUAL-` plus the moment and a random tail, 20 characters (Chorus's probable
limit, chorus-pro.md §6); every invoice says "qualification gateway" in its comment or note.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

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
from app.domain.invoice import (
    Address,
    Buyer,
    InvoiceDraft,
    InvoiceType,
    Line,
    Supplier,
    compute_totals,
)
from app.formats import model
from app.formats.cii import write_cii
from app.formats.from_canonical import to_en16931

PREFIX = "QUAL-"
NOTE = "qualification gateway"
NUMBER_LENGTH = 20
PDF_NAME = "qualification.pdf"
_TAIL = string.ascii_uppercase + string.digits
_QUANTITY = Decimal("1")
_UNIT_PRICE = Decimal("10.00")
_VAT_RATE = Decimal("20")


def invoice_number(kind: str, now: datetime, tail: str | None = None) -> str:
    """`QUAL-` + yymmddHHMMSS + the kind's letter + two random characters: 20 in all."""
    tail = tail if tail is not None else "".join(secrets.choice(_TAIL) for _ in range(2))
    number = f"{PREFIX}{now:%y%m%d%H%M%S}{kind[:1].upper()}{tail}"
    if len(number) != NUMBER_LENGTH:
        raise ValueError(f"a qualification number has {NUMBER_LENGTH} characters: {number!r}")
    return number


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who the qualification invoices go to (a test structure with no EJ/SE flag by default)."""

    siret: str
    service_code: str | None = None
    name: str | None = None


def _line() -> Line:
    return Line(
        description="Qualification gateway",
        quantity=_QUANTITY,
        unit_price=_UNIT_PRICE,
        vat_rate=_VAT_RATE,
        unit="C62",
    )


def submit_request(
    number: str,
    *,
    issue_date: date,
    supplier_id: int,
    recipient: Recipient,
    pdf_attachment_id: int | None = None,
) -> SubmitInvoiceRequest:
    """A `soumettre` body shaped like the gateway's own (app/invoices/chorus_mapping.py)."""
    totals = compute_totals([_line()])
    return SubmitInvoiceRequest(
        modeDepot="DEPOT_PDF_API" if pdf_attachment_id is not None else "SAISIE_API",
        numeroFactureSaisi=number,
        dateFacture=issue_date,
        destinataire=Destinataire(
            codeDestinataire=recipient.siret, codeServiceExecutant=recipient.service_code
        ),
        fournisseur=Fournisseur(idFournisseur=supplier_id),
        references=References(modePaiement="VIREMENT"),
        lignePoste=[
            LignePoste(
                lignePosteNumero=1,
                lignePosteDenomination="Qualification gateway",
                lignePosteQuantite=_QUANTITY,
                lignePosteUnite="C62",
                lignePosteMontantUnitaireHT=_UNIT_PRICE,
                lignePosteTauxTvaManuel=_VAT_RATE,
            )
        ],
        ligneTva=[
            LigneTva(
                ligneTvaTauxManuel=_VAT_RATE,
                ligneTvaMontantBaseHtParTaux=totals.net,
                ligneTvaMontantTvaParTaux=totals.vat,
            )
        ],
        montantTotal=MontantTotal(
            montantHtTotal=totals.net,
            montantTVA=totals.vat,
            montantTtcTotal=totals.gross,
            montantAPayer=totals.gross,
        ),
        pieceJointePrincipale=[
            PieceJointePrincipale(
                pieceJointePrincipaleDesignation=PDF_NAME,
                pieceJointePrincipaleId=pdf_attachment_id,
            )
        ]
        if pdf_attachment_id is not None
        else [],
        commentaire=NOTE,
    )


def pdf_document(number: str) -> bytes:
    """A one-page PDF saying what it is (with a correct cross-reference table)."""
    text = f"Facture de qualification {number} - {NOTE} - ne pas payer"
    stream = f"BT /F1 12 Tf 50 780 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for index, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (index, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _document_address(address: Address | None) -> model.Address:
    given = address or Address()
    return model.Address(
        country_code=given.country_code or "FR",
        line1=given.line1,
        line2=given.line2,
        postal_code=given.postal_code,
        city=given.city,
    )


def cii_document(
    number: str,
    *,
    issue_date: date,
    supplier_siret: str,
    supplier_name: str,
    supplier_vat_number: str | None,
    supplier_address: Address | None,
    recipient: Recipient,
) -> bytes:
    """A CII D16B invoice written the way the gateway writes its flux documents."""
    lines = (_line(),)
    draft = InvoiceDraft(
        invoice_number=number,
        type=InvoiceType.INVOICE,
        issue_date=issue_date,
        currency="EUR",
        supplier=Supplier(siret=supplier_siret, name=supplier_name, vat_number=supplier_vat_number),
        buyer=Buyer(
            siret=recipient.siret,
            service_code=recipient.service_code,
            name=recipient.name or recipient.siret,
        ),
        lines=lines,
        totals=compute_totals(lines),
        note=NOTE,
    )
    document = to_en16931(
        draft,
        seller_address=_document_address(supplier_address),
        buyer_address=_document_address(None),
    )
    return write_cii(document)
