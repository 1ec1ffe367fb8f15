"""Supporting documents: BG-24 inside CII and UBL, and files beside the CII in a Factur-X."""

from __future__ import annotations

import base64
import io
from dataclasses import replace

import pytest
from lxml import etree
from pypdf import PdfReader
from pypdf.generic import NameObject, StreamObject

from app.formats.cii import write_cii
from app.formats.conformance import Syntax, check, check_async
from app.formats.facturx import read_facturx_xml, write_facturx
from app.formats.model import AdditionalDocument, mime_code_for
from app.formats.ubl import write_ubl
from tests.formats.corpus import DELIVERY_NOTE, TIMESHEET, scenario
from tests.formats.pdfs import blank_pdf

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODS = "application/vnd.oasis.opendocument.spreadsheet"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("bon-de-livraison.pdf", "application/pdf"),
        ("SCAN.PDF", "application/pdf"),
        ("photo.jpg", "image/jpeg"),
        ("photo.jpeg", "image/jpeg"),
        ("plan.png", "image/png"),
        ("releve.csv", "text/csv"),
        ("releve.xlsx", XLSX),
        ("releve.ods", ODS),
        ("archive.tar.pdf", "application/pdf"),
        (".pdf", "application/pdf"),
        ("contrat.docx", None),
        ("pieces.zip", None),
        ("facture.xml", None),
        ("notes.txt", None),
        ("sans-extension", None),
        ("point-final.", None),
    ],
)
def test_the_mime_code_is_en16931s_for_the_extension_or_none(
    filename: str, expected: str | None
) -> None:
    assert mime_code_for(filename) == expected


def test_a_document_of_a_type_en16931_cannot_embed_is_refused() -> None:
    with pytest.raises(ValueError, match="BT-125-1"):
        replace(DELIVERY_NOTE, mime_code="application/zip")


def test_the_model_passes_the_documents_through_in_order() -> None:
    document = scenario("two_attachments").document()

    assert document.additional_documents == (DELIVERY_NOTE, TIMESHEET)
    assert scenario("single_rate").document().additional_documents == ()


def test_cii_embeds_each_document_as_a_related_document_after_the_contract() -> None:
    root = etree.fromstring(write_cii(scenario("two_attachments").document()))
    agreement = root.find(".//ram:ApplicableHeaderTradeAgreement", NS)
    assert agreement is not None
    names = [etree.QName(child).localname for child in agreement]

    documents = agreement.findall("ram:AdditionalReferencedDocument", NS)

    assert names[-2:] == ["AdditionalReferencedDocument", "AdditionalReferencedDocument"]
    first, second = documents
    assert first.findtext("ram:IssuerAssignedID", namespaces=NS) == "BL-2026-0457"
    assert first.findtext("ram:TypeCode", namespaces=NS) == "916"
    assert first.findtext("ram:Name", namespaces=NS) == "Bon de livraison signe"
    binary = first.find("ram:AttachmentBinaryObject", NS)
    assert binary is not None
    assert binary.get("mimeCode") == "application/pdf"
    assert binary.get("filename") == "bon-de-livraison.pdf"
    assert base64.b64decode(binary.text or "") == DELIVERY_NOTE.content
    # BT-123 is optional: no empty Name.
    assert second.find("ram:Name", NS) is None
    timesheet = second.find("ram:AttachmentBinaryObject", NS)
    assert timesheet is not None
    assert timesheet.get("filename") == TIMESHEET.filename


@pytest.mark.parametrize("name", ["one_attachment", "two_attachments"])
def test_ubl_embeds_each_document_between_the_contract_and_the_supplier(name: str) -> None:
    case = scenario(name)
    root = etree.fromstring(write_ubl(case.document()))
    names = [etree.QName(child).localname for child in root]
    count = len(case.additional_documents)

    start = names.index("AdditionalDocumentReference")

    assert names[start : start + count] == ["AdditionalDocumentReference"] * count
    assert names[start + count] == "AccountingSupplierParty"
    reference = root.find("cac:AdditionalDocumentReference", NS)
    assert reference is not None
    assert reference.findtext("cbc:ID", namespaces=NS) == "BL-2026-0457"
    assert reference.findtext("cbc:DocumentDescription", namespaces=NS) == "Bon de livraison signe"
    assert reference.find("cbc:DocumentTypeCode", NS) is None
    binary = reference.find("cac:Attachment/cbc:EmbeddedDocumentBinaryObject", NS)
    assert binary is not None
    assert binary.get("mimeCode") == "application/pdf"
    assert binary.get("filename") == "bon-de-livraison.pdf"
    assert base64.b64decode(binary.text or "") == DELIVERY_NOTE.content


def test_every_en16931_mime_code_passes_the_xsd_and_the_schematron() -> None:
    documents = tuple(
        AdditionalDocument(f"PJ-{index}", None, f"piece-{index}.{extension}", code, b"x")
        for index, (extension, code) in enumerate(
            [("png", "image/png"), ("jpg", "image/jpeg"), ("xlsx", XLSX), ("ods", ODS)]
        )
    )
    invoice = replace(scenario("single_rate").document(), additional_documents=documents[:1])
    several = replace(invoice, additional_documents=documents)

    assert check(write_ubl(several), Syntax.UBL).findings == ()
    assert check(write_cii(invoice), Syntax.CII).findings == ()
    assert check(write_cii(several), Syntax.CII).ok


async def test_a_facturx_carries_the_files_beside_its_xml_as_supplements() -> None:
    cii = write_cii(scenario("single_rate").document())
    files = {"bon-de-livraison.pdf": blank_pdf(), "contrat.docx": b"PK\x03\x04 word"}

    document = write_facturx(blank_pdf(), cii, files)

    reader = PdfReader(io.BytesIO(document))
    assert sorted(reader.attachments) == ["bon-de-livraison.pdf", "contrat.docx", "factur-x.xml"]
    assert reader.attachments["contrat.docx"] == [files["contrat.docx"]]
    relationships = {
        str(spec.get_object()["/F"]): spec.get_object()["/AFRelationship"]
        for spec in reader.root_object["/AF"].get_object()
    }
    assert relationships == {
        "factur-x.xml": NameObject("/Data"),
        "bon-de-livraison.pdf": NameObject("/Supplement"),
        "contrat.docx": NameObject("/Supplement"),
    }
    assert read_facturx_xml(document) == cii
    assert (await check_async(document, Syntax.FACTURX)).fatal == ()
    assert write_facturx(blank_pdf(), cii, dict(reversed(files.items()))) == document


def test_a_supporting_document_replaces_the_pdfs_own_file_of_that_name() -> None:
    cii = write_cii(scenario("single_rate").document())
    erp_pdf = blank_pdf(attachments={"bon.txt": b"old delivery note"})

    document = write_facturx(erp_pdf, cii, {"bon.txt": b"new delivery note"})

    assert PdfReader(io.BytesIO(document)).attachments["bon.txt"] == [b"new delivery note"]
    assert _embedded_files(document) == [b"new delivery note", cii]


def _embedded_files(pdf: bytes) -> list[bytes]:
    """Every embedded file stream in the PDF, referenced or not."""
    reader = PdfReader(io.BytesIO(pdf))
    found = []
    for generation in reader.xref.values():
        for number in generation:
            value = reader.get_object(number)
            if isinstance(value, StreamObject) and value.get("/Type") == "/EmbeddedFile":
                found.append(value.get_data())
    return sorted(found, key=len)


@pytest.mark.parametrize("name", ["factur-x.xml", "ZUGFeRD-invoice.xml", " "])
def test_a_supporting_document_cannot_take_the_invoice_xmls_name(name: str) -> None:
    cii = write_cii(scenario("single_rate").document())

    with pytest.raises(ValueError, match="name"):
        write_facturx(blank_pdf(), cii, {name: b"<x/>"})


def test_without_attachments_the_facturx_is_unchanged() -> None:
    cii = write_cii(scenario("single_rate").document())

    assert write_facturx(blank_pdf(), cii, {}) == write_facturx(blank_pdf(), cii)
