"""Factur-X: the ERP's PDF with the gateway's CII inside (`syntaxeFlux` `IN_DP_E2_CII_FACTURX`).

The `factur-x` library adds `factur-x.xml` (AFRelationship `Data`), the `/AF` entry and the XMP
metadata that declares the profile (`fx:ConformanceLevel`). It does not make a PDF PDF/A: the
ERP's PDF must already be PDF/A-3-ready (embedded fonts, OutputIntent) for the result to be.

Only the EN 16931 profile is written: MINIMUM and BASIC WL carry no lines and fail Chorus's
checks, and the Factur-X EN 16931 schematron refuses any other profile's guideline id.

A PDF that already holds a `factur-x.xml` (ERPs such as Odoo embed their own) gets the
gateway's CII in its place: the document Chorus reads must be the one the gateway validated and
reconciles by, and a PDF may carry only one invoice XML. The PDF's other attachments are kept.
"""

from __future__ import annotations

import io
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from lxml import etree
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PyPdfError
from pypdf.generic import StreamObject

FACTURX_FILENAME = "factur-x.xml"
# Earlier names of the same attachment (ZUGFeRD 2.x): replaced too, never kept beside ours.
_INVOICE_XML_NAMES = frozenset({FACTURX_FILENAME, "zugferd-invoice.xml"})
_CII_NS = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
_NS = {
    "rsm": _CII_NS,
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
# BT-24, where a CII declares its profile.
GUIDELINE_PATH = (
    "/rsm:CrossIndustryInvoice/rsm:ExchangedDocumentContext"
    "/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"
)
_DOCUMENT = "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument"
_SELLER_NAME = (
    "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction"
    "/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty/ram:Name"
)
# Whatever pypdf raises on a PDF it cannot make sense of, besides its own errors.
PDF_ERRORS = (
    PyPdfError,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
    RecursionError,
)
# An ERP's PDF carries XML we did not write: no entities, DTD or network (XXE, entity bombs).
_SAFE_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)


class PdfUnusable(Exception):
    """The PDF cannot carry a Factur-X: unreadable, encrypted, or without a page."""


class Level(StrEnum):
    """A Factur-X profile, as BT-24 (the XML's guideline id) declares it."""

    MINIMUM = "minimum"
    BASIC_WL = "basicwl"
    BASIC = "basic"
    EN16931 = "en16931"
    EXTENDED = "extended"
    EXTENDED_CTC_FR = "extended-ctc-fr"


# The XMP's `fx:ConformanceLevel` for each profile (Factur-X 1.0 specification, §6.2.2).
XMP_LEVELS: dict[Level, str] = {
    Level.MINIMUM: "MINIMUM",
    Level.BASIC_WL: "BASIC WL",
    Level.BASIC: "BASIC",
    Level.EN16931: "EN 16931",
    Level.EXTENDED: "EXTENDED",
    Level.EXTENDED_CTC_FR: "EXTENDED",
}


@dataclass(frozen=True, slots=True)
class Embedded:
    """What a Factur-X PDF carries: its XML and the profile the XML and the XMP declare."""

    xml: bytes
    # None when the XML is not a CII or names no known profile.
    level: Level | None
    # `fx:ConformanceLevel` as written (e.g. "EN 16931"); None without Factur-X XMP.
    xmp_level: str | None


def write_facturx(pdf: bytes, cii: bytes, attachments: Mapping[str, bytes] | None = None) -> bytes:
    """`pdf` with `cii` (an EN 16931 CII) embedded as `factur-x.xml`, with its XMP metadata,
    and `attachments` (file name to content: supporting documents) beside it.

    Supporting documents are embedded with AFRelationship `Supplement`, any file type (Chorus's
    list is wider than what BG-24 can carry inside the CII); one named like an attachment the
    PDF already has replaces it. The same inputs give the same bytes: the PDF's dates are the
    invoice's issue date.
    """
    root = _parse_cii(cii)
    level = level_of(root)
    if level is not Level.EN16931:
        raise ValueError(f"a Factur-X is written at the EN 16931 profile only, not {level}")
    moment = _issue_moment(root)
    supplements = _supplements(attachments or {}, moment)
    reader = _open(pdf)
    kept = _other_attachments(reader)
    result = _generate(pdf, cii, moment, _pdf_metadata(root, moment), {**kept, **supplements})
    if _has_invoice_xml(reader) or kept.keys() & supplements.keys():
        # A replaced file stays in the PDF as an unreferenced object: invisible to readers,
        # but the ERP's invoice data (or superseded document) has no business being deposited.
        result = _without_orphans(result)
    return result


def read_facturx(pdf: bytes) -> Embedded | None:
    """The embedded invoice XML and its declared profile; None when there is no `factur-x.xml`."""
    reader = _open(pdf)
    try:
        found = reader.attachments.get(FACTURX_FILENAME)
    except PDF_ERRORS as error:
        raise PdfUnusable(f"the PDF's attachments cannot be read: {error}") from None
    if not found:
        return None
    xml = found[0]
    try:
        level = level_of(_parse_cii(xml))
    except ValueError:
        level = None
    return Embedded(xml, level, _xmp_level(reader))


def read_facturx_xml(pdf: bytes) -> bytes | None:
    """The `factur-x.xml` embedded in `pdf`, as stored; None when it has none."""
    embedded = read_facturx(pdf)
    return embedded.xml if embedded else None


def level_of(cii: etree._Element) -> Level | None:
    """The profile a CII's guideline id (BT-24) names, or None for an id of no known profile."""
    ids = cii.xpath(GUIDELINE_PATH, namespaces=_NS)
    if not ids:
        return None
    guideline = (ids[0].text or "").strip()  # type: ignore[index, union-attr]
    # "urn:cen.eu:en16931:2017" is EN 16931 itself; any other profile ends with its own name
    # ("…#compliant#urn:factur-x.eu:1p0:basic", "urn:factur-x.eu:1p0:minimum").
    if guideline == "urn:cen.eu:en16931:2017":
        return Level.EN16931
    name = guideline.rsplit(":", 1)[-1]
    return Level(name) if name in Level._value2member_map_ else None


# --- reading ---------------------------------------------------------------------------------


def ensure_embeddable(pdf: bytes) -> None:
    """Raise `PdfUnusable` unless a Factur-X can be made of this PDF (readable, not encrypted,
    with a page): what submission checks before accepting a PDF for the facturx channel."""
    _open(pdf)


def _open(pdf: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(pdf))
        encrypted = reader.is_encrypted
        pages = 0 if encrypted else len(reader.pages)
    except PDF_ERRORS as error:
        raise PdfUnusable(f"the PDF cannot be read: {error}") from None
    # PDF/A forbids encryption, and removing an owner's restrictions is not the gateway's call
    # (pypdf would silently drop an empty-password encryption).
    if encrypted:
        raise PdfUnusable("the PDF is encrypted")
    if pages == 0:
        raise PdfUnusable("the PDF has no page")
    return reader


def _parse_cii(xml: bytes) -> etree._Element:
    try:
        root = etree.fromstring(xml, parser=_SAFE_PARSER)
    except etree.XMLSyntaxError as error:
        raise ValueError(f"not well-formed XML: {error}") from None
    if etree.QName(root).namespace != _CII_NS:
        raise ValueError(f"not a CII: the root element is {root.tag}")
    return root


def _xmp_level(reader: PdfReader) -> str | None:
    try:
        metadata = reader.root_object.get("/Metadata")
        stream = metadata.get_object() if metadata is not None else None
        data = stream.get_data() if isinstance(stream, StreamObject) else b""
    except PDF_ERRORS:
        return None
    if not data:
        return None
    try:
        xmp = etree.fromstring(data, parser=_SAFE_PARSER)
    except etree.XMLSyntaxError:
        return None
    # XMP writes a property as an element or as an attribute of rdf:Description.
    values: Any = xmp.xpath(
        "(//*[local-name()='ConformanceLevel']/text() | //@*[local-name()='ConformanceLevel'])[1]"
    )
    return str(values[0]).strip() if values else None


def _other_attachments(reader: PdfReader) -> dict[str, dict[str, Any]]:
    # factur-x rebuilds the PDF's attachment list from scratch: what the ERP attached besides
    # an invoice XML would be lost unless handed back.
    try:
        found = reader.attachments
        return {
            name: {"filedata": contents[0], "afrelationship": "unspecified"}
            for name in sorted(found)
            if name.lower() not in _INVOICE_XML_NAMES and (contents := found[name])
        }
    except PDF_ERRORS as error:
        raise PdfUnusable(f"the PDF's attachments cannot be read: {error}") from None


def _supplements(attachments: Mapping[str, bytes], moment: datetime) -> dict[str, dict[str, Any]]:
    for name in attachments:
        if name.lower() in _INVOICE_XML_NAMES:
            raise ValueError(f"{name!r} is the invoice XML's own name: not a supporting document")
        if not name.strip():
            raise ValueError("a supporting document needs a file name")
    # PDF/A-3 wants each embedded file's modification date: the issue date keeps the bytes
    # reproducible.
    return {
        name: {
            "filedata": attachments[name],
            "afrelationship": "supplement",
            "modification_datetime": moment,
        }
        for name in sorted(attachments)
    }


def _has_invoice_xml(reader: PdfReader) -> bool:
    try:
        return any(name.lower() in _INVOICE_XML_NAMES for name in reader.attachments)
    except PDF_ERRORS as error:
        raise PdfUnusable(f"the PDF's attachments cannot be read: {error}") from None


# --- writing ---------------------------------------------------------------------------------


def _issue_moment(cii: etree._Element) -> datetime:
    found = cii.xpath(f"{_DOCUMENT}/ram:IssueDateTime/udt:DateTimeString", namespaces=_NS)
    text = (found[0].text or "").strip() if found else ""  # type: ignore[index, union-attr]
    try:
        return datetime.strptime(text, "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"the CII has no issue date (BT-2) in format 102: {text!r}") from None


# `_dated` swaps factur-x's module-level clock functions: one generation at a time.
_generate_lock = threading.Lock()


def _pdf_metadata(cii: etree._Element, moment: datetime) -> dict[str, str]:
    # Given to factur-x so that it does not read the XML itself: what fails from then on is the
    # PDF's doing, never the XML's.
    def text(path: str) -> str:
        return str(cii.xpath(f"normalize-space({path})", namespaces=_NS))

    seller = text(_SELLER_NAME)
    number = text(f"{_DOCUMENT}/ram:ID")
    kind = "Credit note" if text(f"{_DOCUMENT}/ram:TypeCode") == "381" else "Invoice"
    return {
        "author": seller,
        "keywords": f"{kind}, Factur-X",
        "title": f"{seller}: {kind} {number}",
        "subject": f"{kind} {number} dated {moment:%Y-%m-%d} issued by {seller}",
    }


def _generate(
    pdf: bytes,
    cii: bytes,
    moment: datetime,
    metadata: dict[str, str],
    attachments: dict[str, dict[str, Any]],
) -> bytes:
    import facturx

    with (
        _generate_lock,
        _dated(facturx.facturx, moment),
        tempfile.TemporaryDirectory(prefix="facturx-") as directory,
    ):
        # `generate_from_binary` writes its result over its input file from wherever reading
        # left off, leaving the input's first bytes in front (akretion/factur-x#24): a separate
        # output file avoids that.
        output = Path(directory) / "facturx.pdf"
        try:
            facturx.generate_from_file(
                io.BytesIO(pdf),
                cii,
                flavor="factur-x",
                level=Level.EN16931.value,
                # The caller runs the full XSD and schematron; the library's schematron check
                # would call an HTTP server.
                check_xsd=False,
                check_schematron=False,
                pdf_metadata=metadata,
                attachments=attachments,
                afrelationship="data",
                output_pdf_file=str(output),
            )
        except PDF_ERRORS as error:
            raise PdfUnusable(f"the PDF cannot take the Factur-X attachment: {error}") from None
        result = output.read_bytes()
    return result


def _without_orphans(pdf: bytes) -> bytes:
    reader = PdfReader(io.BytesIO(pdf))
    # A clone copies what the document references, nothing else; the header is factur-x's.
    writer = PdfWriter(clone_from=reader)
    writer.pdf_header = reader.pdf_header
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


@contextmanager
def _dated(library: Any, moment: datetime) -> Iterator[None]:
    # factur-x stamps the PDF (Info, XMP, the attachment's ModDate) with the current time and
    # offers no parameter for it. Its two clock functions are swapped for the invoice's date,
    # under `_generate_lock`, so a stored invoice always renders to the same bytes.
    pdf_timestamp = library._get_pdf_timestamp
    metadata_timestamp = library._get_metadata_timestamp
    library._get_pdf_timestamp = lambda date=None: pdf_timestamp(date or moment)
    library._get_metadata_timestamp = lambda: moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    try:
        yield
    finally:
        library._get_pdf_timestamp = pdf_timestamp
        library._get_metadata_timestamp = metadata_timestamp
