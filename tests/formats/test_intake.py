"""The conformance pass on received documents: XSD and EN 16931 schematron, in the pool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.formats import conformance
from app.formats.conformance import Severity, Syntax
from app.formats.facturx import Level
from app.formats.intake import check_received, finding_json
from app.formats.reading import read_facturx_document, read_xml_document
from tests.formats.documents import cii, credit_note_payload, facturx, full_payload, ubl
from tests.formats.pdfs import facturx_by_the_library

LIMIT = 10 * 1024 * 1024


@pytest.fixture(autouse=True, scope="module")
def no_pool_left() -> Iterator[None]:
    yield
    conformance.shutdown()


async def test_the_gateways_own_documents_pass_as_received() -> None:
    for original in (cii(full_payload()), ubl(full_payload()), ubl(credit_note_payload())):
        report = await check_received(read_xml_document(original, max_bytes=LIMIT), original)
        assert report.ok, report.fatal
    pdf = facturx(full_payload())
    report = await check_received(read_facturx_document(pdf, max_xml_bytes=LIMIT), pdf)
    assert report.ok, report.fatal
    assert report.syntax is Syntax.FACTURX


async def test_a_schematron_violation_is_reported_with_rule_severity_and_location() -> None:
    # BR-CO-15: the total with VAT is the total without VAT plus the VAT.
    original = ubl(full_payload()).replace(
        b"255.83</cbc:TaxInclusiveAmount>", b"255.84</cbc:TaxInclusiveAmount>"
    )

    report = await check_received(read_xml_document(original, max_bytes=LIMIT), original)

    assert not report.ok
    assert "BR-CO-15" in report.fatal_rule_ids
    entry = finding_json(next(f for f in report.fatal if f.rule_id == "BR-CO-15"))
    assert entry["severity"] == Severity.FATAL.value
    assert entry["code"] == "FORMAT_INVALID"
    assert entry["location"]
    assert entry["message"]


async def test_an_xsd_violation_is_fatal() -> None:
    original = cii(full_payload()).replace(b"<ram:TypeCode>380</ram:TypeCode>", b"")

    report = await check_received(read_xml_document(original, max_bytes=LIMIT), original)

    assert "XSD" in report.fatal_rule_ids


async def test_a_basic_factur_x_is_checked_against_the_en16931_rules_but_its_guideline(
    tmp_path: Path,
) -> None:
    basic = b"urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic"
    xml = cii(full_payload()).replace(b"urn:cen.eu:en16931:2017", basic)
    pdf = facturx_by_the_library(xml, "basic", tmp_path)

    read = read_facturx_document(pdf, max_xml_bytes=LIMIT)
    report = await check_received(read, pdf)

    assert read.level is Level.BASIC
    assert report.ok, report.fatal
    (tmp_path / "broken").mkdir()
    broken = facturx_by_the_library(
        xml.replace(b"<ram:TypeCode>380</ram:TypeCode>", b"<ram:TypeCode>999</ram:TypeCode>"),
        "basic",
        tmp_path / "broken",
    )
    assert not (await check_received(read_facturx_document(broken, max_xml_bytes=LIMIT), broken)).ok
