"""Signed invoice PDFs at submission: refused when a signature is broken, else described.

A signed PDF is never modified (any change would break its signature), so it is deposited as is:
with `soumettre` as DEPOT_PDF_SIGNE_API, or, when it already embeds a Factur-X XML, as a Factur-X
flux with `avecSignature`. Every signature must be intact and cover the whole file: bytes added
after a signature (an incremental update) are bytes nobody signed, and the gateway does not
judge what they change. Certificate trust is reported; API_REQUIRE_TRUSTED_SIGNATURE makes it a
requirement.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from app.domain.violations import Code, Violation
from app.formats.facturx import PdfUnusable, read_facturx_xml
from app.formats.signatures import PdfSignature, inspect_signatures, is_signed

PDF_SIGNATURE_INVALID = Code.PDF_SIGNATURE_INVALID
SIGNER_MAX = 300


@dataclass(frozen=True, slots=True)
class Signature:
    """What the invoice answer and the delivery need to know of a signed PDF."""

    signer: str | None
    signed_at: datetime | None
    # The signed PDF already carries a `factur-x.xml`: it can go as a Factur-X, as is.
    facturx: bool
    # That XML's invoice number (BT-1), which must be the invoice's own.
    facturx_number: str | None = None


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """The PDF's signature (None: unsigned) and what is wrong with it."""

    signature: Signature | None
    violations: list[Violation]


UNSIGNED = SignatureCheck(None, [])


async def check_signatures(pdf: bytes, *, require_trusted: bool) -> SignatureCheck:
    """Inspect `pdf`'s signatures off the event loop (a byte scan first: unsigned costs nothing)."""
    if not is_signed(pdf):
        return UNSIGNED
    return await asyncio.to_thread(_check, pdf, require_trusted)


def _check(pdf: bytes, require_trusted: bool) -> SignatureCheck:
    try:
        signatures = inspect_signatures(pdf)
    except PdfUnusable as unusable:
        return SignatureCheck(None, [Violation("file", Code.PDF_INVALID, f"{unusable}.")])
    if not signatures:
        return UNSIGNED
    problems = [
        problem
        for index, signature in enumerate(signatures, start=1)
        if (problem := _problem(signature, require_trusted, last=index == len(signatures)))
        is not None
    ]
    if problems:
        message = "The PDF's signature cannot be relied on: " + "; ".join(problems) + "."
        return SignatureCheck(None, [Violation("file", PDF_SIGNATURE_INVALID, message)])
    last = signatures[-1]
    try:
        xml = read_facturx_xml(pdf)
    except PdfUnusable:
        xml = None
    signer = last.signer[:SIGNER_MAX] if last.signer else None
    number = _invoice_number(xml) if xml is not None else None
    return SignatureCheck(Signature(signer, last.signed_at, xml is not None, number), [])


_NUMBER_PATH = "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID/text()"
_CII_NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}


def _invoice_number(xml: bytes) -> str | None:
    try:
        # No DTDs, no network, no entities: the XML came from outside.
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        found = etree.fromstring(xml, parser).xpath(_NUMBER_PATH, namespaces=_CII_NS)
    except etree.XMLSyntaxError:
        return None
    return str(found[0]).strip() if isinstance(found, list) and found else None


def facturx_violations(signature: Signature | None, invoice_number: str | None) -> list[Violation]:
    """A signed Factur-X deposited as is must be this invoice: Chorus reads its XML, and the
    gateway finds the invoice again by the number in it."""
    if signature is None or not signature.facturx or signature.facturx_number == invoice_number:
        return []
    return [
        Violation(
            "file",
            Code.PDF_INVALID,
            f"The signed Factur-X is invoice {signature.facturx_number or '(no number)'}, "
            f"not {invoice_number}; it is deposited as is, so it must be this invoice.",
        )
    ]


def _problem(signature: PdfSignature, require_trusted: bool, *, last: bool) -> str | None:
    who = f"signature by {signature.signer or 'an unnamed signer'}"
    if not signature.intact:
        return f"{who}: {signature.problem or 'broken'}"
    # A countersignature is added after the first one by nature; only bytes after the last
    # signature are unsigned.
    if last and not signature.covers_whole_file:
        return f"{who}: bytes were added after it was signed"
    if require_trusted and not signature.trusted:
        return f"{who}: its certificate is not trusted (API_REQUIRE_TRUSTED_SIGNATURE)"
    return None
