"""Reading the invoices a flux carries (CII D16B, UBL 2.1, Factur-X) with the emulator's own code.

Nothing here is shared with the gateway's writers (`app/formats`): the xpaths below are written
from the EN 16931 placements Chorus uses (SE in BT-10, EJ in BT-13, SIRETs with scheme 0009,
the framework in BT-23), so a field the gateway puts in the wrong place is missing here.

`open_flux` runs at deposit and refuses what Chorus refuses synchronously (not a readable file,
not the announced syntax). `extract` pulls the fields the business rules need; what it cannot
find becomes an error text for `listeErreurDP`, reported when the flux is processed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import mimetypes
import tarfile
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from lxml import etree
from pydantic import BaseModel, Field
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from app.emulator.signature import is_signed_pdf

SYNTAX_CII = "IN_DP_E1_CII_16B"
SYNTAX_UBL = "IN_DP_E1_UBL_INVOICE"
SYNTAX_FACTURX = "IN_DP_E2_CII_FACTURX"
SYNTAXES = (SYNTAX_CII, SYNTAX_UBL, SYNTAX_FACTURX)
FACTURX_ATTACHMENT = "factur-x.xml"

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
UBL_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NS = {"rsm": RSM, "ram": RAM, "udt": UDT, "cbc": CBC, "cac": CAC}
CII_ROOT = f"{{{RSM}}}CrossIndustryInvoice"
UBL_ROOTS = (f"{{{UBL_INVOICE}}}Invoice", f"{{{UBL_CREDIT_NOTE}}}CreditNote")
SIRET_SCHEME = "0009"
# UNTDID 1001 codes Chorus maps to its two invoice types.
INVOICE_TYPES = {"380": "FACTURE", "381": "AVOIR"}


GZIP_MAGIC = b"\x1f\x8b"


class FluxTooLarge(Exception):
    """An archive holding more, or bigger, than the settings allow: refused at deposit."""


class FluxUnreadable(Exception):
    """The file is not what a flux can be (not XML, not a PDF): refused at deposit."""


class SyntaxMismatch(Exception):
    """The file is readable but is not the syntax `syntaxeFlux` announced: refused at deposit."""


def _parser() -> etree.XMLParser:
    # Untrusted input: no entity expansion, no DTD, no network, no huge-tree memory bombs.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _parse_xml(content: bytes) -> etree._Element:
    try:
        root = etree.fromstring(content, _parser())
    except etree.XMLSyntaxError as exc:
        raise FluxUnreadable(f"Le fichier n'est pas un XML bien formé : {exc.msg}") from None
    if root is None:
        raise FluxUnreadable("Le fichier n'est pas un XML bien formé.")
    return root


def _facturx_parts(content: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The `factur-x.xml` embedded in a Factur-X PDF, and its other embedded files."""
    if not content.startswith(b"%PDF-"):
        raise FluxUnreadable("Le fichier n'est pas un PDF.")
    try:
        attachments = PdfReader(io.BytesIO(content)).attachments
        embedded = {name: list(attachments[name]) for name in attachments}
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise FluxUnreadable(f"Le PDF est illisible : {exc}") from None
    xml = embedded.pop(FACTURX_ATTACHMENT, None)
    if not xml:
        raise SyntaxMismatch(f"Le PDF ne contient pas de fichier {FACTURX_ATTACHMENT}.")
    return xml[0], [(name, data) for name, files in embedded.items() for data in files]


def open_flux(content: bytes, syntax: str) -> etree._Element:
    """The invoice document's root element, checked against the announced syntax."""
    return _checked_root(
        _facturx_parts(content)[0] if syntax == SYNTAX_FACTURX else content, syntax
    )


def read_document(content: bytes, syntax: str) -> DocumentInvoice:
    """One flux document: what it says, the files it carries, whether it is a signed PDF.

    A Factur-X's files are its BG-24 documents and the PDF's embedded files but `factur-x.xml`.
    """
    xml, embedded = _facturx_parts(content) if syntax == SYNTAX_FACTURX else (content, [])
    document = extract(_checked_root(xml, syntax))
    document.attachments += [
        _attachment(name, data, mimetypes.guess_type(name)[0]) for name, data in embedded
    ]
    document.signed_pdf = syntax == SYNTAX_FACTURX and is_signed_pdf(content)
    return document


def _checked_root(xml: bytes, syntax: str) -> etree._Element:
    root = _parse_xml(xml)
    expected = UBL_ROOTS if syntax == SYNTAX_UBL else (CII_ROOT,)
    if root.tag not in expected:
        names = " ou ".join(expected)
        raise SyntaxMismatch(
            f"Le document ({root.tag}) ne correspond pas à la syntaxe {syntax} (attendu {names})."
        )
    return root


def is_archive(content: bytes) -> bool:
    """Whether the flux is a gzip-compressed tar (several invoices of one syntax, as OCA sends)."""
    return content.startswith(GZIP_MAGIC)


def unpack(content: bytes, max_files: int, max_bytes: int) -> list[tuple[str, bytes]]:
    """The files of a `.tar.gz` flux, read in memory (never extracted to disk), in order.

    Untrusted: only regular files count, and the archive is refused as soon as a header announces
    more files or more bytes than allowed, before that member's data is decompressed.
    """
    files: list[tuple[str, bytes]] = []
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(content), mode="r:gz") as archive:
            for member in archive:
                if not member.isfile():
                    continue
                total += member.size
                if len(files) >= max_files or total > max_bytes:
                    raise FluxTooLarge(
                        f"L'archive dépasse {max_files} factures ou {max_bytes} octets."
                    )
                extracted = archive.extractfile(member)
                if extracted is None:
                    continue
                files.append((member.name, extracted.read()))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise FluxUnreadable(f"L'archive tar.gz est illisible : {exc}") from None
    if not files:
        raise FluxUnreadable("L'archive tar.gz ne contient aucune facture.")
    return files


class DocumentLine(BaseModel):
    """One invoice line as the document gives it."""

    name: str
    quantity: Decimal
    unit: str | None
    net_price: Decimal
    net_amount: Decimal
    vat_rate: Decimal | None


class VatBreakdown(BaseModel):
    """One entry of BG-23."""

    rate: Decimal | None
    base: Decimal
    amount: Decimal


class DocumentAttachment(BaseModel):
    """A file the document carries (BG-24 or embedded in the PDF); its content is not kept."""

    name: str
    mime_type: str | None
    size: int
    sha256: str


def _attachment(name: str, data: bytes, mime_type: str | None) -> DocumentAttachment:
    return DocumentAttachment(
        name=name, mime_type=mime_type, size=len(data), sha256=hashlib.sha256(data).hexdigest()
    )


class DocumentInvoice(BaseModel):
    """What the business rules need from one invoice document."""

    number: str | None = None
    type_code: str | None = None
    issue_date: date | None = None
    supplier_siret: str | None = None
    buyer_siret: str | None = None
    service_code: str | None = None
    ej: str | None = None
    market: str | None = None
    preceding_number: str | None = None
    currency: str | None = None
    framework: str | None = None
    # BT-107 and BT-108: document-level allowances and charges, between BT-106 and BT-109.
    allowances: Decimal | None = None
    charges: Decimal | None = None
    total_ht: Decimal | None = None
    total_vat: Decimal | None = None
    total_ttc: Decimal | None = None
    payable: Decimal | None = None
    lines: list[DocumentLine] = Field(default_factory=list)
    vat: list[VatBreakdown] = Field(default_factory=list)
    attachments: list[DocumentAttachment] = Field(default_factory=list)
    signed_pdf: bool = False
    # Why the document cannot be processed at all (missing mandatory data), as Chorus words it.
    problems: list[str] = Field(default_factory=list)


def _nodes(node: etree._Element, path: str) -> list[etree._Element]:
    found = node.xpath(path, namespaces=NS)
    return (
        [item for item in found if isinstance(item, etree._Element)]
        if isinstance(found, list)
        else []
    )


def _text(node: etree._Element, path: str) -> str | None:
    found = node.xpath(path, namespaces=NS)
    if not isinstance(found, list) or not found:
        return None
    first = found[0]
    value = first.text if isinstance(first, etree._Element) else str(first)
    return value.strip() or None if value is not None else None


def _amount(node: etree._Element, path: str, problems: list[str], label: str) -> Decimal | None:
    value = _text(node, path)
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        problems.append(f"Le montant {label} ({value}) n'est pas un nombre.")
        return None


def _require(value: object, label: str, problems: list[str]) -> None:
    if value is None:
        problems.append(f"L'élément {label} est obligatoire.")


def _date(value: str | None, pattern: str, label: str, problems: list[str]) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, pattern).date()
    except ValueError:
        problems.append(f"La date {label} ({value}) est invalide.")
        return None


def extract(root: etree._Element) -> DocumentInvoice:
    """The invoice's fields, from a root `open_flux` accepted."""
    invoice = _extract_cii(root) if root.tag == CII_ROOT else _extract_ubl(root)
    problems = invoice.problems
    _require(invoice.number, "numéro de facture (BT-1)", problems)
    _require(invoice.type_code, "type de facture (BT-3)", problems)
    _require(invoice.issue_date, "date de facture (BT-2)", problems)
    _require(invoice.currency, "devise (BT-5)", problems)
    _require(invoice.total_ht, "montant total HT (BT-109)", problems)
    _require(invoice.total_ttc, "montant total TTC (BT-112)", problems)
    _require(invoice.payable, "montant à payer (BT-115)", problems)
    if invoice.type_code is not None and invoice.type_code not in INVOICE_TYPES:
        problems.append(f"Le type de facture {invoice.type_code} n'est pas accepté (380 ou 381).")
    if invoice.supplier_siret is None:
        problems.append(
            "L'identifiant fournisseur de la demande de paiement (SIRET, schéma 0009) n'est pas "
            "renseigné."
        )
    if invoice.buyer_siret is None:
        problems.append(
            "L'identifiant du destinataire (BT-47, SIRET schéma 0009) n'est pas renseigné."
        )
    if not invoice.lines:
        problems.append("La facture doit comporter au moins une ligne.")
    return invoice


def _embedded(root: etree._Element, path: str, problems: list[str]) -> list[DocumentAttachment]:
    """BG-24 documents embedded as base64 (BT-125), named by @filename, typed by @mimeCode."""
    found = []
    for node in _nodes(root, path):
        name = (node.get("filename") or "").strip()
        try:
            data = base64.b64decode("".join((node.text or "").split()), validate=True)
        except (binascii.Error, ValueError):
            problems.append(f"La pièce jointe {name or '(sans nom)'} (BT-125) n'est pas en base64.")
            continue
        found.append(_attachment(name, data, node.get("mimeCode")))
    return found


def _line_problems(lines: list[DocumentLine | None]) -> list[str]:
    return [
        f"La ligne {index} est incomplète (désignation, quantité, prix net, montant net)."
        for index, line in enumerate(lines, start=1)
        if line is None
    ]


def _make_line(
    name: str | None,
    quantity: Decimal | None,
    unit: str | None,
    price: Decimal | None,
    amount: Decimal | None,
    rate: Decimal | None,
) -> DocumentLine | None:
    if name is None or quantity is None or price is None or amount is None:
        return None
    return DocumentLine(
        name=name, quantity=quantity, unit=unit, net_price=price, net_amount=amount, vat_rate=rate
    )


def _extract_cii(root: etree._Element) -> DocumentInvoice:
    problems: list[str] = []
    agreement = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/"
    settlement = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
    summation = settlement + "ram:SpecifiedTradeSettlementHeaderMonetarySummation/"
    currency = _text(root, settlement + "ram:InvoiceCurrencyCode")
    seller = agreement + "ram:SellerTradeParty/"
    buyer = agreement + "ram:BuyerTradeParty/"
    siret = f"[@schemeID='{SIRET_SCHEME}']"
    # BT-110 may appear twice (invoice and accounting currency): take the invoice currency's.
    vat_total = _amount(
        root, summation + f"ram:TaxTotalAmount[@currencyID='{currency}']", problems, "BT-110"
    )
    if vat_total is None:
        vat_total = _amount(root, summation + "ram:TaxTotalAmount", problems, "BT-110")
    lines: list[DocumentLine | None] = []
    for item in _nodes(
        root, "rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem"
    ):
        lines.append(
            _make_line(
                _text(item, "ram:SpecifiedTradeProduct/ram:Name"),
                _amount(
                    item, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity", problems, "BT-129"
                ),
                _text(item, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity/@unitCode"),
                _amount(
                    item,
                    "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:ChargeAmount",
                    problems,
                    "BT-146",
                ),
                _amount(
                    item,
                    "ram:SpecifiedLineTradeSettlement/"
                    "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
                    problems,
                    "BT-131",
                ),
                _amount(
                    item,
                    "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/"
                    "ram:RateApplicablePercent",
                    problems,
                    "BT-152",
                ),
            )
        )
    vat = [
        VatBreakdown(
            rate=_amount(tax, "ram:RateApplicablePercent", problems, "BT-119"),
            base=_amount(tax, "ram:BasisAmount", problems, "BT-116") or Decimal(0),
            amount=_amount(tax, "ram:CalculatedAmount", problems, "BT-117") or Decimal(0),
        )
        for tax in _nodes(root, settlement + "ram:ApplicableTradeTax")
    ]
    return DocumentInvoice(
        number=_text(root, "rsm:ExchangedDocument/ram:ID"),
        type_code=_text(root, "rsm:ExchangedDocument/ram:TypeCode"),
        issue_date=_date(
            _text(root, "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString"),
            "%Y%m%d",
            "BT-2",
            problems,
        ),
        supplier_siret=_text(root, seller + "ram:GlobalID" + siret)
        or _text(root, seller + "ram:SpecifiedLegalOrganization/ram:ID" + siret),
        buyer_siret=_text(root, buyer + "ram:SpecifiedLegalOrganization/ram:ID" + siret)
        or _text(root, buyer + "ram:GlobalID" + siret),
        service_code=_text(root, agreement + "ram:BuyerReference"),
        ej=_text(root, agreement + "ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID"),
        market=_text(root, agreement + "ram:ContractReferencedDocument/ram:IssuerAssignedID"),
        preceding_number=_text(
            root, settlement + "ram:InvoiceReferencedDocument/ram:IssuerAssignedID"
        ),
        currency=currency,
        framework=_text(
            root,
            "rsm:ExchangedDocumentContext/ram:BusinessProcessSpecifiedDocumentContextParameter/"
            "ram:ID",
        ),
        allowances=_amount(root, summation + "ram:AllowanceTotalAmount", problems, "BT-107"),
        charges=_amount(root, summation + "ram:ChargeTotalAmount", problems, "BT-108"),
        total_ht=_amount(root, summation + "ram:TaxBasisTotalAmount", problems, "BT-109"),
        total_vat=vat_total,
        total_ttc=_amount(root, summation + "ram:GrandTotalAmount", problems, "BT-112"),
        payable=_amount(root, summation + "ram:DuePayableAmount", problems, "BT-115"),
        lines=[line for line in lines if line is not None],
        vat=vat,
        attachments=_embedded(
            root,
            agreement + "ram:AdditionalReferencedDocument/ram:AttachmentBinaryObject",
            problems,
        ),
        problems=problems + _line_problems(lines),
    )


def _extract_ubl(root: etree._Element) -> DocumentInvoice:
    problems: list[str] = []
    credit = root.tag == UBL_ROOTS[1]
    currency = _text(root, "cbc:DocumentCurrencyCode")
    supplier = "cac:AccountingSupplierParty/cac:Party/"
    customer = "cac:AccountingCustomerParty/cac:Party/"
    siret = f"[@schemeID='{SIRET_SCHEME}']"
    totals = "cac:LegalMonetaryTotal/"
    lines: list[DocumentLine | None] = []
    line_tag = "cac:CreditNoteLine" if credit else "cac:InvoiceLine"
    quantity_tag = "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity"
    for item in _nodes(root, line_tag):
        lines.append(
            _make_line(
                _text(item, "cac:Item/cbc:Name"),
                _amount(item, quantity_tag, problems, "BT-129"),
                _text(item, quantity_tag + "/@unitCode"),
                _amount(item, "cac:Price/cbc:PriceAmount", problems, "BT-146"),
                _amount(item, "cbc:LineExtensionAmount", problems, "BT-131"),
                _amount(item, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent", problems, "BT-152"),
            )
        )
    tax_total = f"cac:TaxTotal[cbc:TaxAmount/@currencyID='{currency}']"
    vat = [
        VatBreakdown(
            rate=_amount(sub, "cac:TaxCategory/cbc:Percent", problems, "BT-119"),
            base=_amount(sub, "cbc:TaxableAmount", problems, "BT-116") or Decimal(0),
            amount=_amount(sub, "cbc:TaxAmount", problems, "BT-117") or Decimal(0),
        )
        for sub in _nodes(root, tax_total + "/cac:TaxSubtotal")
    ]
    return DocumentInvoice(
        number=_text(root, "cbc:ID"),
        type_code=_text(root, "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode"),
        issue_date=_date(_text(root, "cbc:IssueDate"), "%Y-%m-%d", "BT-2", problems),
        supplier_siret=_text(root, supplier + "cac:PartyIdentification/cbc:ID" + siret)
        or _text(root, supplier + "cac:PartyLegalEntity/cbc:CompanyID" + siret),
        buyer_siret=_text(root, customer + "cac:PartyLegalEntity/cbc:CompanyID" + siret)
        or _text(root, customer + "cac:PartyIdentification/cbc:ID" + siret),
        service_code=_text(root, "cbc:BuyerReference"),
        ej=_text(root, "cac:OrderReference/cbc:ID"),
        market=_text(root, "cac:ContractDocumentReference/cbc:ID"),
        preceding_number=_text(root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"),
        currency=currency,
        framework=_text(root, "cbc:ProfileID"),
        allowances=_amount(root, totals + "cbc:AllowanceTotalAmount", problems, "BT-107"),
        charges=_amount(root, totals + "cbc:ChargeTotalAmount", problems, "BT-108"),
        total_ht=_amount(root, totals + "cbc:TaxExclusiveAmount", problems, "BT-109"),
        total_vat=_amount(root, tax_total + "/cbc:TaxAmount", problems, "BT-110"),
        total_ttc=_amount(root, totals + "cbc:TaxInclusiveAmount", problems, "BT-112"),
        payable=_amount(root, totals + "cbc:PayableAmount", problems, "BT-115"),
        lines=[line for line in lines if line is not None],
        vat=vat,
        attachments=_embedded(
            root,
            "cac:AdditionalDocumentReference/cac:Attachment/cbc:EmbeddedDocumentBinaryObject",
            problems,
        ),
        problems=problems + _line_problems(lines),
    )
