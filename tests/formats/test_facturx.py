"""Factur-X: the ERP's PDF with the gateway's CII inside, written, read back and checked."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader
from pypdf.generic import NameObject

from app.formats import conformance
from app.formats.cii import write_cii
from app.formats.conformance import Severity, Syntax, check, check_async
from app.formats.facturx import (
    Level,
    PdfUnusable,
    read_facturx,
    read_facturx_xml,
    write_facturx,
)
from tests.formats.corpus import SCENARIOS, Scenario, scenario
from tests.formats.pdfs import blank_pdf, facturx_by_the_library

EN16931_ID = b"<ram:ID>urn:cen.eu:en16931:2017</ram:ID>"
# single_rate is dated 2026-11-20.
ISSUE_DATE_PDF = "D:20261120000000+00'00'"
ISSUE_DATE_XMP = b"2026-11-20T00:00:00+00:00"

UNREADABLE = [
    pytest.param(b"", id="empty"),
    pytest.param(b"GIF89a not a pdf", id="not_a_pdf"),
    pytest.param(b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n", id="no_xref"),
    pytest.param(blank_pdf()[:200], id="truncated"),
    pytest.param(blank_pdf(password="secret"), id="encrypted"),
    # pypdf would open this one and drop the encryption: refused all the same.
    pytest.param(blank_pdf(password=""), id="encrypted_with_empty_password"),
    pytest.param(blank_pdf(pages=0), id="no_page"),
]


@pytest.fixture(scope="module")
def cii() -> bytes:
    return write_cii(scenario("single_rate").document())


@pytest.fixture(scope="module")
def facturx(cii: bytes) -> bytes:
    return write_facturx(blank_pdf(), cii)


def _with_level(cii: bytes, guideline: str) -> bytes:
    assert EN16931_ID in cii
    return cii.replace(EN16931_ID, f"<ram:ID>{guideline}</ram:ID>".encode(), 1)


@pytest.mark.parametrize("case", SCENARIOS, ids=lambda case: case.name)
def test_every_corpus_scenario_embedded_in_a_pdf_passes_the_facturx_check(case: Scenario) -> None:
    cii = write_cii(case.document())

    document = write_facturx(blank_pdf(), cii)

    report = check(document, Syntax.FACTURX)
    assert report.syntax is Syntax.FACTURX
    assert report.fatal == ()
    assert read_facturx_xml(document) == cii


def test_the_facturx_declares_en16931_in_its_xml_and_its_xmp(facturx: bytes, cii: bytes) -> None:
    embedded = read_facturx(facturx)

    assert embedded is not None
    assert embedded.xml == cii
    assert embedded.level is Level.EN16931
    assert embedded.xmp_level == "EN 16931"


def test_the_xml_is_attached_as_data_and_listed_in_the_catalog_af(facturx: bytes) -> None:
    reader = PdfReader(io.BytesIO(facturx))
    root = reader.root_object
    [filespec] = [entry.get_object() for entry in root["/AF"].get_object()]

    assert filespec["/F"] == "factur-x.xml"
    assert filespec["/AFRelationship"] == NameObject("/Data")
    assert list(reader.attachments) == ["factur-x.xml"]


def test_the_output_is_one_pdf_not_the_input_overwritten_in_place(facturx: bytes) -> None:
    # factur-x's generate_from_binary leaves the input's first bytes before its output
    # (akretion/factur-x#24): a second header inside the file.
    assert facturx.startswith(b"%PDF-1.6\n")
    assert facturx.count(b"%PDF-") == 1
    assert facturx.rstrip().endswith(b"%%EOF")


def test_the_same_inputs_give_the_same_bytes_dated_on_the_issue_date(
    facturx: bytes, cii: bytes
) -> None:
    again = write_facturx(blank_pdf(), cii)

    assert again == facturx
    metadata = PdfReader(io.BytesIO(facturx)).metadata
    assert metadata is not None
    assert metadata["/CreationDate"] == metadata["/ModDate"] == ISSUE_DATE_PDF
    xmp = PdfReader(io.BytesIO(facturx)).root_object["/Metadata"].get_object().get_data()
    assert xmp.count(ISSUE_DATE_XMP) == 2  # xmp:CreateDate and xmp:ModifyDate


def test_the_erps_own_facturx_xml_is_replaced_and_its_other_attachments_kept(cii: bytes) -> None:
    erp_pdf = blank_pdf(
        attachments={
            "factur-x.xml": b"<erp-generated-invoice/>",
            "bon-de-livraison.txt": b"livre le 18/11",
        }
    )

    document = write_facturx(erp_pdf, cii)

    reader = PdfReader(io.BytesIO(document))
    assert sorted(reader.attachments) == ["bon-de-livraison.txt", "factur-x.xml"]
    assert reader.attachments["bon-de-livraison.txt"] == [b"livre le 18/11"]
    assert read_facturx_xml(document) == cii
    # Not even as an unreferenced object: the ERP's XML is not what Chorus should get.
    assert b"erp-generated-invoice" not in document
    assert document.count(b"%PDF-") == 1
    assert check(document, Syntax.FACTURX).ok


@pytest.mark.parametrize("pdf", UNREADABLE)
def test_an_unusable_pdf_raises_pdf_unusable(pdf: bytes, cii: bytes) -> None:
    with pytest.raises(PdfUnusable):
        write_facturx(pdf, cii)
    with pytest.raises(PdfUnusable):
        read_facturx_xml(pdf)


@pytest.mark.parametrize("pdf", UNREADABLE)
def test_an_unusable_pdf_is_one_fatal_finding(pdf: bytes) -> None:
    report = check(pdf, Syntax.FACTURX)

    assert [(f.rule_id, f.severity) for f in report.findings] == [
        (conformance.PDF_UNUSABLE, Severity.FATAL)
    ]


@pytest.mark.parametrize(
    ("guideline", "level"),
    [
        ("urn:factur-x.eu:1p0:minimum", Level.MINIMUM),
        ("urn:factur-x.eu:1p0:basicwl", Level.BASIC_WL),
        ("urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended", Level.EXTENDED),
    ],
)
def test_the_writer_refuses_any_profile_but_en16931(
    cii: bytes, guideline: str, level: Level
) -> None:
    with pytest.raises(ValueError, match=level.value):
        write_facturx(blank_pdf(), _with_level(cii, guideline))


@pytest.mark.parametrize(
    ("guideline", "level"),
    [
        ("urn:factur-x.eu:1p0:minimum", "minimum"),
        ("urn:factur-x.eu:1p0:basicwl", "basicwl"),
        ("urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended", "extended"),
    ],
)
def test_a_facturx_of_another_profile_is_a_level_finding(
    cii: bytes, tmp_path: Path, guideline: str, level: str
) -> None:
    document = facturx_by_the_library(_with_level(cii, guideline), level, tmp_path)

    report = check(document, Syntax.FACTURX)

    [finding] = report.findings
    assert (finding.rule_id, finding.severity) == (conformance.WRONG_LEVEL, Severity.FATAL)
    assert f"the {level} profile" in finding.message
    assert finding.location.endswith("ram:GuidelineSpecifiedDocumentContextParameter/ram:ID")
    assert not report.ok


def test_a_facturx_xml_without_facturx_xmp_is_an_xmp_finding_and_the_xml_is_still_checked(
    cii: bytes,
) -> None:
    broken = cii.replace(b"<ram:GrandTotalAmount>240.00<", b"<ram:GrandTotalAmount>250.00<", 1)
    document = blank_pdf(attachments={"factur-x.xml": broken})

    report = check(document, Syntax.FACTURX)

    assert report.fatal_rule_ids == ("BR-CO-15", "BR-CO-16", conformance.XMP_LEVEL)
    [xmp] = [f for f in report.findings if f.rule_id == conformance.XMP_LEVEL]
    assert "None" in xmp.message


def test_an_xmp_declaring_another_level_than_the_xml_is_a_finding(
    cii: bytes, tmp_path: Path
) -> None:
    # The library writes the XMP for the level it is told, whatever the XML says.
    document = facturx_by_the_library(cii, "basic", tmp_path)

    report = check(document, Syntax.FACTURX)

    assert [(f.rule_id, f.severity) for f in report.findings] == [
        (conformance.XMP_LEVEL, Severity.FATAL)
    ]
    assert "'BASIC'" in report.findings[0].message


def test_a_pdf_without_facturx_xml_is_a_finding_and_reads_as_none() -> None:
    document = blank_pdf(attachments={"invoice.xml": b"<x/>"})

    assert read_facturx_xml(document) is None
    assert read_facturx(document) is None
    assert check(document, Syntax.FACTURX).fatal_rule_ids == (conformance.NO_INVOICE_XML,)


@pytest.mark.parametrize(
    ("xml", "rule"),
    [
        pytest.param(b"<rsm:Cross", conformance.NOT_WELL_FORMED, id="not_well_formed"),
        pytest.param(
            b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>',
            conformance.WRONG_ROOT,
            id="ubl_inside",
        ),
    ],
)
def test_an_unreadable_embedded_xml_is_reported_as_such(xml: bytes, rule: str) -> None:
    document = blank_pdf(attachments={"factur-x.xml": xml})

    embedded = read_facturx(document)
    assert embedded is not None
    assert embedded.level is None
    assert check(document, Syntax.FACTURX).fatal_rule_ids == (rule,)


def test_xsd_and_schematron_alone_check_the_embedded_xml(cii: bytes) -> None:
    broken = cii.replace(b"<ram:TypeCode>380</ram:TypeCode>", b"", 1)
    document = write_facturx(blank_pdf(), broken)

    assert {f.rule_id for f in conformance.check_xsd(document, Syntax.FACTURX)} == {"XSD"}
    assert "BR-04" in {f.rule_id for f in conformance.check_schematron(document, Syntax.FACTURX)}
    assert conformance.check_xsd(b"", Syntax.FACTURX)[0].rule_id == conformance.PDF_UNUSABLE


async def test_the_async_check_of_a_facturx_gives_the_same_verdict(cii: bytes) -> None:
    broken = cii.replace(b"<ram:GrandTotalAmount>240.00<", b"<ram:GrandTotalAmount>250.00<", 1)
    valid = write_facturx(blank_pdf(), cii)
    invalid = write_facturx(blank_pdf(), broken)
    try:
        remote_valid = await check_async(valid, Syntax.FACTURX)
        remote_invalid = await check_async(invalid, Syntax.FACTURX)
    finally:
        conformance.shutdown()

    assert remote_valid.findings == ()
    assert remote_invalid == check(invalid, Syntax.FACTURX)
    assert remote_invalid.fatal_rule_ids == ("BR-CO-15", "BR-CO-16")
