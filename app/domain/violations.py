"""What a rule reports when an invoice breaks it: a field, a stable code and a sentence."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Code(StrEnum):
    """Stable error codes; ERPs match on these, so never rename one."""

    EJ_REQUIRED = "EJ_REQUIRED"
    EJ_INVALID = "EJ_INVALID"
    SE_REQUIRED = "SE_REQUIRED"
    SE_INVALID = "SE_INVALID"
    SIRET_INVALID = "SIRET_INVALID"
    BUYER_NOT_ALLOWED = "BUYER_NOT_ALLOWED"
    SUPPLIER_NOT_ALLOWED = "SUPPLIER_NOT_ALLOWED"
    TOTALS_MISMATCH = "TOTALS_MISMATCH"
    INVOICE_NUMBER_INVALID = "INVOICE_NUMBER_INVALID"
    FIELD_REQUIRED = "FIELD_REQUIRED"
    FIELD_INVALID = "FIELD_INVALID"
    PDF_INVALID = "PDF_INVALID"
    PDF_SIGNATURE_INVALID = "PDF_SIGNATURE_INVALID"
    ATTACHMENT_INVALID = "ATTACHMENT_INVALID"
    ATTACHMENT_TOO_LARGE = "ATTACHMENT_TOO_LARGE"
    SUPPLIER_NOT_REGISTERED = "SUPPLIER_NOT_REGISTERED"
    VAT_EXEMPTION_REASON_REQUIRED = "VAT_EXEMPTION_REASON_REQUIRED"
    # Structured documents (UBL, CII, Factur-X) received instead of JSON.
    FORMAT_INVALID = "FORMAT_INVALID"
    XML_INVALID = "XML_INVALID"
    XML_DTD_REFUSED = "XML_DTD_REFUSED"
    DOCUMENT_NOT_SUPPORTED = "DOCUMENT_NOT_SUPPORTED"
    FACTURX_INVALID = "FACTURX_INVALID"
    FACTURX_PROFILE_REFUSED = "FACTURX_PROFILE_REFUSED"


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule, located by its dotted field path (`lines.0.quantity`) and, for an
    invoice read from a UBL or CII document, the XPath where the value was read."""

    field: str
    code: Code
    message: str
    location: str | None = None
