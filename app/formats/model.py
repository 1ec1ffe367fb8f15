"""The invoice as EN 16931 sees it: what every syntax (CII D16B, UBL 2.1) is written from.

The canonical invoice (`app.domain.invoice`) is what ERPs send and the gateway validates; this
model is that invoice once everything a structured document needs is resolved: the parties'
postal addresses, VAT categories, payment means as UNTDID 4461 codes, the totals EN 16931 names.
Writers only place these values; they decide nothing. Business-term numbers (BT-…) say where
each value goes in every syntax.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

# BT-24: the EN 16931 profile itself (never MINIMUM or BASIC WL: they carry no lines).
EN16931_SPECIFICATION = "urn:cen.eu:en16931:2017"
# BT-47 / BT-29: ISO 6523 scheme of a SIRET; of a SIREN.
SIRET_SCHEME = "0009"
SIREN_SCHEME = "0002"
# BT-130: UN/ECE recommendation 20 "one" (a unit, a piece).
DEFAULT_UNIT_CODE = "C62"


class DocumentType(StrEnum):
    """BT-3, UNTDID 1001."""

    INVOICE = "380"
    CREDIT_NOTE = "381"


class VatCategory(StrEnum):
    """BT-118 / BT-151, UNTDID 5305 as EN 16931 restricts it (France refuses L and M)."""

    STANDARD = "S"
    ZERO_RATED = "Z"
    EXEMPT = "E"
    REVERSE_CHARGE = "AE"
    INTRA_COMMUNITY = "K"
    EXPORT = "G"
    NOT_SUBJECT = "O"


@dataclass(frozen=True, slots=True)
class Address:
    """BG-5 / BG-8: a postal address; the country (ISO 3166-1 alpha-2) is always required."""

    country_code: str
    line1: str | None = None
    line2: str | None = None
    postal_code: str | None = None
    city: str | None = None


@dataclass(frozen=True, slots=True)
class Party:
    """BG-4 seller or BG-7 buyer.

    `siret` goes with scheme 0009 (BT-29/BT-47); a party outside France has no SIRET and is
    identified by `identifier` with its ISO 6523 `identifier_scheme` instead.
    """

    name: str
    address: Address
    siret: str | None = None
    vat_number: str | None = None
    identifier: str | None = None
    identifier_scheme: str | None = None

    @property
    def siren(self) -> str | None:
        """BT-30 for a French party: the SIRET's first nine digits."""
        return self.siret[:9] if self.siret else None


@dataclass(frozen=True, slots=True)
class DocumentLine:
    """BG-25: one line. `net_amount` (BT-131) is quantity times net price, to the cent."""

    line_id: str
    name: str
    quantity: Decimal
    unit_code: str
    net_price: Decimal
    net_amount: Decimal
    vat_category: VatCategory
    vat_rate: Decimal
    seller_item_id: str | None = None


@dataclass(frozen=True, slots=True)
class VatSubtotal:
    """BG-23: one per (category, rate); base (BT-116) is the sum of its lines' nets."""

    category: VatCategory
    rate: Decimal
    taxable_amount: Decimal
    tax_amount: Decimal
    # BT-120 / BT-121: required for E (and O, AE, K, G): text and/or a VATEX code.
    exemption_reason: str | None = None
    exemption_reason_code: str | None = None


@dataclass(frozen=True, slots=True)
class DocumentTotals:
    """BG-22, without allowances or charges at document level (the canonical model has none)."""

    line_total: Decimal  # BT-106
    tax_exclusive: Decimal  # BT-109
    tax_total: Decimal  # BT-110
    tax_inclusive: Decimal  # BT-112
    payable: Decimal  # BT-115


@dataclass(frozen=True, slots=True)
class PaymentInstructions:
    """BG-16: BT-81 means code (UNTDID 4461), BT-84 IBAN and BT-86 BIC, BT-20 terms."""

    means_code: str
    iban: str | None = None
    bic: str | None = None
    terms: str | None = None


@dataclass(frozen=True, slots=True)
class PrecedingInvoice:
    """BG-3: the invoice a credit note corrects (BT-25, BT-26 when known)."""

    number: str
    issue_date: date | None = None


# BT-125-1: the only MIME codes EN 16931 lets a structured invoice embed, by file extension.
# Chorus takes more types as attachments (Word, ZIP, XML…): those travel beside the invoice
# (`pieceJointeComplementaire`, or beside the CII in a Factur-X), never inside a CII or UBL.
MIME_CODES: dict[str, str] = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}


def mime_code_for(filename: str) -> str | None:
    """The EN 16931 MIME code (BT-125-1) for a file name's extension; None when EN 16931 cannot
    embed that type (the gateway then sends the file beside the invoice, never inside it)."""
    _, dot, extension = filename.rpartition(".")
    return MIME_CODES.get(extension.lower()) if dot else None


@dataclass(frozen=True, slots=True)
class AdditionalDocument:
    """BG-24: a supporting document embedded in the invoice (delivery note, timesheet…)."""

    reference: str  # BT-122
    description: str | None  # BT-123
    filename: str  # BT-125-2
    mime_code: str  # BT-125-1, one of MIME_CODES' values
    content: bytes  # BT-125, base64-encoded by the writers

    def __post_init__(self) -> None:
        if self.mime_code not in MIME_CODES.values():
            raise ValueError(f"EN 16931 cannot embed a {self.mime_code!r} document (BT-125-1)")


@dataclass(frozen=True, slots=True)
class EN16931Invoice:
    """One invoice or credit note, ready to be written in any syntax."""

    number: str  # BT-1
    type: DocumentType  # BT-3
    issue_date: date  # BT-2
    currency: str  # BT-5
    seller: Party  # BG-4
    buyer: Party  # BG-7
    lines: tuple[DocumentLine, ...]  # BG-25
    vat_breakdown: tuple[VatSubtotal, ...]  # BG-23
    totals: DocumentTotals  # BG-22
    due_date: date | None = None  # BT-9
    buyer_reference: str | None = None  # BT-10: Chorus's SE (code service exécutant)
    order_reference: str | None = None  # BT-13: Chorus's EJ (engagement juridique)
    contract_reference: str | None = None  # BT-12: numéro de marché
    business_process: str | None = None  # BT-23: Chorus's cadre de facturation
    preceding_invoice: PrecedingInvoice | None = None  # BG-3
    note: str | None = None  # BT-22
    payment: PaymentInstructions | None = None  # BG-16 (none on a credit note)
    # BT-72: French law (CGI art. 242 nonies A) prints the delivery date only when it differs
    # from the issue date; a structured document states it (it also fills CII's header delivery).
    delivery_date: date | None = None
    additional_documents: tuple[AdditionalDocument, ...] = ()  # BG-24
