"""Untrusted XML and PDFs: refused with a stable code, never expanded, fetched or inflated."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.violations import Code
from app.formats.facturx_in import extract_invoice_xml
from app.formats.reading import read_facturx_document, read_xml_document, refusal
from app.formats.safe_xml import XmlRefused, parse_untrusted
from tests.formats.documents import (
    BILLION_LAUGHS,
    EXTERNAL_DTD,
    EXTERNAL_ENTITY,
    cii,
    deflated_zeros,
    full_payload,
    pdf_with_invoice_xml,
)
from tests.formats.pdfs import blank_pdf, facturx_by_the_library

LIMIT = 1024 * 1024


def _refused(data: bytes) -> XmlRefused:
    with pytest.raises(XmlRefused) as caught:
        read_xml_document(data, max_bytes=LIMIT)
    return caught.value


def _refused_pdf(pdf: bytes) -> XmlRefused:
    with pytest.raises(XmlRefused) as caught:
        read_facturx_document(pdf, max_xml_bytes=LIMIT)
    return caught.value


@pytest.mark.parametrize(
    "document",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD],
    ids=["billion_laughs", "external_entity", "external_dtd"],
)
def test_a_doctype_or_entity_declaration_is_refused_without_expanding_or_reading(
    document: bytes,
) -> None:
    error = _refused(document)

    assert error.code is Code.XML_DTD_REFUSED
    assert "root:" not in error.message  # /etc/passwd was never read


def test_a_doctype_hidden_behind_utf16_is_refused_too() -> None:
    document = EXTERNAL_ENTITY.replace(b'<?xml version="1.0"?>', b"").decode("ascii")

    error = _refused(document.encode("utf-16"))

    assert error.code is Code.XML_DTD_REFUSED


def test_the_parser_itself_refuses_a_doctype_the_byte_scan_misses() -> None:
    # The byte scan knows UTF-8 and UTF-16; in UTF-32 only the parsed tree shows the DOCTYPE.
    text = '<?xml version="1.0" encoding="UTF-32"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'

    with pytest.raises(XmlRefused) as caught:
        parse_untrusted(text.encode("utf-32"), max_bytes=LIMIT)

    assert caught.value.code is Code.XML_DTD_REFUSED


@pytest.mark.parametrize(
    ("document", "code"),
    [
        (b"", Code.XML_INVALID),
        (b"   ", Code.XML_INVALID),
        (b"not xml at all", Code.XML_INVALID),
        (b"<Invoice><unclosed></Invoice>", Code.XML_INVALID),
        (
            b'<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"/>',
            Code.DOCUMENT_NOT_SUPPORTED,
        ),
        (b"<Invoice/>", Code.DOCUMENT_NOT_SUPPORTED),
    ],
)
def test_what_is_not_a_ubl_or_cii_is_refused_with_a_clear_code(document: bytes, code: Code) -> None:
    assert _refused(document).code is code


def test_a_document_over_the_size_limit_is_refused_before_parsing() -> None:
    document = cii(full_payload())

    with pytest.raises(XmlRefused) as caught:
        read_xml_document(document, max_bytes=len(document) - 1)

    assert caught.value.code is Code.XML_INVALID
    assert "limit" in caught.value.message


def test_a_deeply_nested_document_is_refused_not_recursed_into() -> None:
    document = b"<a>" * 100_000 + b"</a>" * 100_000

    with pytest.raises(XmlRefused) as caught:
        parse_untrusted(document, max_bytes=10 * LIMIT)

    assert caught.value.code is Code.XML_INVALID


def test_a_refusal_becomes_a_violation_on_the_part_that_carried_it() -> None:
    violation = refusal(_refused(BILLION_LAUGHS), "file")

    assert (violation.field, violation.code, violation.location) == (
        "file",
        Code.XML_DTD_REFUSED,
        "/",
    )


def test_a_pdf_without_factur_x_xml_is_refused() -> None:
    error = _refused_pdf(blank_pdf())

    assert error.code is Code.FACTURX_INVALID
    assert "no factur-x.xml" in error.message


def test_an_encrypted_or_unreadable_pdf_is_refused() -> None:
    assert _refused_pdf(blank_pdf(password="secret")).code is Code.FACTURX_INVALID
    assert _refused_pdf(b"%PDF-1.7\nthis is not a pdf").code is Code.FACTURX_INVALID


def test_a_factur_x_xml_that_is_not_xml_is_refused() -> None:
    error = _refused_pdf(pdf_with_invoice_xml(b"\x00\x01 binary, not XML"))

    assert error.code is Code.XML_INVALID


def test_a_factur_x_xml_with_a_doctype_is_refused() -> None:
    assert _refused_pdf(pdf_with_invoice_xml(BILLION_LAUGHS)).code is Code.XML_DTD_REFUSED


def test_a_factur_x_xml_that_is_not_a_cii_is_refused() -> None:
    ubl_like = b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>'

    assert _refused_pdf(pdf_with_invoice_xml(ubl_like)).code is Code.FACTURX_INVALID


def test_a_compression_bomb_is_refused_without_inflating_it_whole() -> None:
    bomb = deflated_zeros(64)  # 64 MB once inflated, a few dozen kilobytes here
    assert len(bomb) < 200_000

    error = _refused_pdf(pdf_with_invoice_xml(b"placeholder", compressed=bomb))

    assert error.code is Code.FACTURX_INVALID
    assert "limit" in error.message


def test_an_embedded_file_declaring_a_huge_size_is_refused() -> None:
    pdf = pdf_with_invoice_xml(b"<a/>", declared_size=10 * LIMIT)

    with pytest.raises(XmlRefused) as caught:
        extract_invoice_xml(pdf, max_xml_bytes=LIMIT)

    assert caught.value.code is Code.FACTURX_INVALID


def test_an_embedded_xml_under_the_limit_is_returned_as_stored() -> None:
    xml = cii(full_payload())

    assert extract_invoice_xml(pdf_with_invoice_xml(xml), max_xml_bytes=LIMIT) == xml
    deflated = pdf_with_invoice_xml(b"x", compressed=_deflate(xml))
    assert extract_invoice_xml(deflated, max_xml_bytes=LIMIT) == xml


def _deflate(data: bytes) -> bytes:
    import zlib

    return zlib.compress(data)


@pytest.mark.parametrize(
    ("level", "guideline"),
    [("minimum", "urn:factur-x.eu:1p0:minimum"), ("basicwl", "urn:factur-x.eu:1p0:basicwl")],
)
def test_minimum_and_basic_wl_profiles_are_refused_with_their_own_code(
    level: str, guideline: str, tmp_path: Path
) -> None:
    xml = cii(full_payload()).replace(b"urn:cen.eu:en16931:2017", guideline.encode())

    error = _refused_pdf(facturx_by_the_library(xml, level, tmp_path))

    assert error.code is Code.FACTURX_PROFILE_REFUSED
    assert error.location.endswith("ram:GuidelineSpecifiedDocumentContextParameter/ram:ID")
