"""An ERP's own document (UBL 2.1, CII D16B, or a Factur-X PDF) read as the canonical invoice.

The result is the JSON dict an ERP would have posted, with the XPath each field was read at:
the same normalization and rules then apply as to JSON, and their errors are located in the
document (`locate`). What the canonical model does not carry stays in the original bytes, which
the caller keeps. Pure: no I/O, no event loop; the conformance pass (XSD, schematron) is the
caller's, in the process pool.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lxml import etree

from app.domain.violations import Code, Violation
from app.formats.cii import RSM_NS
from app.formats.cii_in import read_cii
from app.formats.conformance import Syntax
from app.formats.facturx import GUIDELINE_PATH, Level, level_of
from app.formats.facturx_in import extract_invoice_xml
from app.formats.fields import Fields
from app.formats.safe_xml import XmlRefused, parse_untrusted
from app.formats.ubl import UBL_CREDIT_NOTE_NS, UBL_INVOICE_NS
from app.formats.ubl_in import read_ubl

XML_MEDIA_TYPES = frozenset({"application/xml", "text/xml"})
PDF_MEDIA_TYPE = "application/pdf"
PDF_MAGIC = b"%PDF-"
# The PDF header may follow some junk bytes: readers look in the first kilobyte.
_PDF_HEADER_WINDOW = 1024
# MINIMUM and BASIC WL carry no lines, payment means or VAT breakdown: Chorus rejects them.
ACCEPTED_LEVELS = frozenset({Level.EN16931, Level.BASIC})
_ROOTS = {
    (UBL_INVOICE_NS, "Invoice"): Syntax.UBL,
    (UBL_CREDIT_NOTE_NS, "CreditNote"): Syntax.UBL,
    (RSM_NS, "CrossIndustryInvoice"): Syntax.CII,
}


@dataclass(frozen=True, slots=True)
class ReadDocument:
    """A document read: the canonical invoice, where each field came from, and what the
    document itself shows that the canonical invoice cannot say."""

    syntax: Syntax
    # The XML read; for a Factur-X, its embedded `factur-x.xml`.
    xml: bytes
    invoice: dict[str, Any]
    locations: Mapping[str, str]
    problems: tuple[Violation, ...] = ()
    # A Factur-X's profile, from its guideline id (BT-24).
    level: Level | None = None
    # Fields an `invoice` JSON part set: their errors have no place in the document.
    overridden: frozenset[str] = field(default=frozenset())

    @property
    def media_type(self) -> str:
        """What the original is served back as."""
        return PDF_MEDIA_TYPE if self.syntax is Syntax.FACTURX else "application/xml"

    def with_overrides(self, overrides: Mapping[str, Any]) -> ReadDocument:
        """The invoice with an `invoice` JSON part's fields replacing or completing the
        document's (objects merge field by field; `lines` is replaced whole)."""
        merged = copy.deepcopy(self.invoice)
        touched: set[str] = set(self.overridden)
        _merge(merged, overrides, "", touched)
        return replace(self, invoice=merged, overridden=frozenset(touched))

    def locate(self, violations: Iterable[Violation]) -> list[Violation]:
        """`violations` with the XPath of the field each names (or of its nearest group)."""
        return [self._located(violation) for violation in violations]

    def _located(self, violation: Violation) -> Violation:
        if violation.location is not None:
            return violation
        parts = violation.field.split(".")
        prefixes = [".".join(parts[:size]) for size in range(len(parts), 0, -1)]
        if any(prefix in self.overridden for prefix in prefixes):
            return violation
        for prefix in prefixes:
            location = self.locations.get(prefix)
            if location is not None:
                return replace(violation, location=location)
        return violation


def looks_like_pdf(content: bytes) -> bool:
    """Whether `content` starts (within its first kilobyte) like a PDF."""
    return PDF_MAGIC in content[:_PDF_HEADER_WINDOW]


def read_xml_document(data: bytes, *, max_bytes: int) -> ReadDocument:
    """A UBL Invoice / CreditNote or a CII, recognised by its root element and namespace.

    Raises `XmlRefused`: XML_INVALID, XML_DTD_REFUSED, DOCUMENT_NOT_SUPPORTED.
    """
    root = parse_untrusted(data, max_bytes=max_bytes)
    syntax = recognise(root)
    if syntax is None:
        raise XmlRefused(
            Code.DOCUMENT_NOT_SUPPORTED,
            f"The root element {root.tag} is neither a UBL 2.1 Invoice or CreditNote nor a "
            "CII D16B CrossIndustryInvoice.",
        )
    fields = read_ubl(root) if syntax is Syntax.UBL else read_cii(root)
    return _result(syntax, data, fields)


def read_facturx_document(pdf: bytes, *, max_xml_bytes: int) -> ReadDocument:
    """The CII inside a Factur-X / ZUGFeRD PDF, at the EN 16931 or BASIC profile.

    Raises `XmlRefused`: FACTURX_INVALID, FACTURX_PROFILE_REFUSED, and those of the XML.
    """
    xml = extract_invoice_xml(pdf, max_xml_bytes=max_xml_bytes)
    root = parse_untrusted(xml, max_bytes=max_xml_bytes)
    if recognise(root) is not Syntax.CII:
        raise XmlRefused(
            Code.FACTURX_INVALID, f"The PDF's factur-x.xml is not a CII: its root is {root.tag}."
        )
    level = level_of(root)
    if level not in ACCEPTED_LEVELS:
        declared = f"the {level.name} profile" if level else "no known Factur-X profile"
        raise XmlRefused(
            Code.FACTURX_PROFILE_REFUSED,
            f"The factur-x.xml declares {declared}; Chorus needs EN 16931 (or BASIC): MINIMUM "
            "and BASIC WL carry no lines, payment means or VAT breakdown.",
            GUIDELINE_PATH,
        )
    return replace(_result(Syntax.FACTURX, xml, read_cii(root)), level=level)


def recognise(root: etree._Element) -> Syntax | None:
    """UBL or CII by the root element's namespace and name; None for anything else."""
    name = etree.QName(root)
    return _ROOTS.get((name.namespace or "", name.localname))


def refusal(error: XmlRefused, field: str) -> Violation:
    """The violation a refused document is answered with, on the part (`file`, `body`)."""
    return Violation(field, error.code, error.message, error.location)


def _result(syntax: Syntax, xml: bytes, fields: Fields) -> ReadDocument:
    return ReadDocument(
        syntax=syntax,
        xml=xml,
        invoice=fields.document,
        locations=dict(fields.locations),
        problems=tuple(fields.problems),
    )


def _merge(
    target: dict[str, Any], overrides: Mapping[str, Any], prefix: str, touched: set[str]
) -> None:
    for key, value in overrides.items():
        name = f"{prefix}{key}"
        current = target.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            _merge(current, value, f"{name}.", touched)
            continue
        target[key] = copy.deepcopy(value)
        touched.add(name)
