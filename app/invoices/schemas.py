"""The invoice on the wire: what ERPs send (`InvoiceIn`) and what they get back (`InvoiceOut`).

Normalization lives in the `Before` validators, so every later step and every response sees the
normalized values: SIRETs without separators, codes trimmed and upper-cased, exact decimals,
empty strings as absent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from app.domain.identifiers import normalize_bank_code, normalize_code, normalize_siret
from app.domain.invoice import (
    CONTRACT_REFERENCE_MAX_LENGTH,
    DEFAULT_FRAMEWORK,
    DEFAULT_UNIT_CODE,
    MAX_DECIMAL_PLACES,
    MAX_INPUT_AMOUNT,
    MAX_INTEGER_DIGITS,
    PAYMENT_MEANS,
    VAT_REGIMES,
    money_text,
)

# What JSON and most ERPs mean by a decimal: optional sign, a dot, optional exponent.
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DECIMAL_FORMAT = "expected a decimal number with a dot and no thousands separator, e.g. 10.50"
_SMALLEST_STEP = Decimal(1).scaleb(-MAX_DECIMAL_PLACES)
DATE_FORMAT = "expected an ISO 8601 date YYYY-MM-DD, e.g. 2026-11-20"


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _identifier(value: Any) -> Any:
    # ERPs often send identifiers as JSON numbers; the digits are what matter.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return _blank_to_none(value)


def _siret(value: Any) -> Any:
    value = _identifier(value)
    return normalize_siret(value) or None if isinstance(value, str) else value


def _code(value: Any) -> Any:
    value = _identifier(value)
    return normalize_code(value) if isinstance(value, str) else value


def _amount(value: Any) -> Decimal | None:
    """An exact decimal within the gateway's bounds, or None for an absent amount."""
    if isinstance(value, bool | float):
        # json.loads(parse_float=Decimal) never yields a float; a float here lost precision.
        raise ValueError("Amounts are decimal strings or JSON numbers.")
    value = _blank_to_none(value)
    if value is None:
        return None
    amount = _decimal(value)
    if not amount.is_finite():
        raise ValueError("Amounts are finite numbers.")
    if amount == 0:
        # 0E+999999999 is zero too, but printing its digits would not be.
        return Decimal(0)
    if amount.adjusted() >= MAX_INTEGER_DIGITS:
        raise ValueError(
            f"Amount over the limit: at most {MAX_INPUT_AMOUNT} in absolute value "
            f"({MAX_INTEGER_DIGITS} digits before the decimal point)."
        )
    if amount != amount.quantize(_SMALLEST_STEP):
        raise ValueError(f"At most {MAX_DECIMAL_PLACES} decimal places.")
    return amount


def _decimal(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value) is not None:
        try:
            return Decimal(value)
        except InvalidOperation:  # an exponent beyond what Decimal represents
            pass
    raise ValueError(f"Not an amount: {DECIMAL_FORMAT}.")


def _iso_date(value: Any) -> Any:
    value = _blank_to_none(value)
    if value is None or isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value} is not a calendar date: {DATE_FORMAT}.") from None
    raise ValueError(f"Not a date: {DATE_FORMAT}.")


def _bank_code(value: Any) -> Any:
    value = _blank_to_none(value)
    return normalize_bank_code(value) if isinstance(value, str) else value


def _money_or_none(amount: Decimal | None) -> str | None:
    return None if amount is None else money_text(amount)


def _text(max_length: int, transform: Callable[[Any], Any] = _blank_to_none) -> Any:
    """Normalize with `transform`, then bound the length (documented in the JSON schema too)."""

    def validate(value: Any) -> Any:
        value = transform(value)
        if isinstance(value, str) and len(value) > max_length:
            raise ValueError(f"at most {max_length} characters")
        return value

    return (BeforeValidator(validate), Field(json_schema_extra={"maxLength": max_length}))


Siret = Annotated[str | None, *_text(32, _siret)]
_AMOUNT_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": f"^{_DECIMAL_TEXT.pattern}$", "maxLength": 64},
        {"type": "number"},
        {"type": "null"},
    ],
    "description": f"Exact decimal, at most {MAX_INPUT_AMOUNT} in absolute value and "
    f"{MAX_DECIMAL_PLACES} decimal places.",
}
Amount = Annotated[
    Decimal | None, BeforeValidator(_amount), Field(json_schema_extra=_AMOUNT_SCHEMA)
]
# Money a client sends: answered back with at least two decimals, like every amount out.
MoneyAmount = Annotated[
    Decimal | None,
    BeforeValidator(_amount),
    PlainSerializer(_money_or_none, return_type=str | None, when_used="json"),
    Field(json_schema_extra=_AMOUNT_SCHEMA),
]
IsoDate = Annotated[
    date | None,
    BeforeValidator(_iso_date),
    Field(json_schema_extra={"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]}),
]
Money = Annotated[Decimal, PlainSerializer(money_text, return_type=str)]
# Quantities and rates keep the digits they were given ("2", "5.5").
Exact = Annotated[Decimal, PlainSerializer(lambda amount: f"{amount:f}", return_type=str)]


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AddressIn(_Inbound):
    """A postal address; empty strings are absent, the country is upper-cased."""

    line1: Annotated[str | None, *_text(200)] = Field(default=None, examples=["1 rue de la Paix"])
    line2: Annotated[str | None, *_text(200)] = None
    postal_code: Annotated[str | None, *_text(16, _code)] = Field(default=None, examples=["75002"])
    city: Annotated[str | None, *_text(100)] = Field(default=None, examples=["Paris"])
    country_code: Annotated[str | None, *_text(8, _code)] = Field(
        default=None, description="ISO 3166-1 alpha-2.", examples=["FR"]
    )


class SupplierIn(_Inbound):
    """The supplier: its SIRET must be one the calling client may invoice for."""

    siret: Siret = Field(default=None, examples=["41234567010000"])
    name: Annotated[str | None, *_text(200)] = None
    vat_number: Annotated[str | None, *_text(20, _code)] = Field(
        default=None, examples=["FR96412345670"]
    )
    address: AddressIn | None = Field(
        default=None, description="Default: the supplier structure's registered address."
    )


class BuyerIn(_Inbound):
    """The public buyer: the State's SIRET and the SE that processes the invoice."""

    siret: Siret = Field(default=None, examples=["110 002 011 000 44"])
    service_code: Annotated[str | None, *_text(120, _code)] = Field(
        default=None, description="Code service exécutant (SE).", examples=["SFACETAT"]
    )
    name: Annotated[str | None, *_text(200)] = None
    address: AddressIn | None = Field(
        default=None, description="Default: the buyer's address in Chorus Pro's directory."
    )


class LineIn(_Inbound):
    """One invoice line; the net amount is quantity times unit price, to the cent."""

    description: Annotated[str | None, *_text(1000)] = None
    quantity: Amount = Field(default=None, examples=["2"])
    unit_price: MoneyAmount = Field(default=None, examples=["100.00"])
    vat_rate: Amount = Field(default=None, description="Percent.", examples=["20"])
    unit: Annotated[str | None, *_text(32)] = None
    reference: Annotated[str | None, *_text(64)] = None
    unit_code: Annotated[str | None, *_text(8, _code)] = Field(
        default=None,
        description=f"UN/ECE recommendation 20 unit code; {DEFAULT_UNIT_CODE} (one) when absent.",
        examples=["HUR"],
    )


class TotalsIn(_Inbound):
    """Optional totals; when given they must match the lines to the cent."""

    net: MoneyAmount = Field(default=None, examples=["200.00"])
    vat: MoneyAmount = Field(default=None, examples=["40.00"])
    gross: MoneyAmount = Field(default=None, examples=["240.00"])


class PaymentIn(_Inbound):
    """How the buyer pays (Chorus `modePaiement`); not for credit notes."""

    means: Annotated[str | None, *_text(16, _code)] = Field(
        default=None,
        description=f"One of {', '.join(PAYMENT_MEANS)}; VIREMENT when absent.",
        examples=["VIREMENT"],
    )
    iban: Annotated[str | None, *_text(42, _bank_code)] = Field(
        default=None, examples=["FR7630006000011234567890189"]
    )
    bic: Annotated[str | None, *_text(16, _bank_code)] = Field(default=None, examples=["BNPAFRPP"])
    terms: Annotated[str | None, *_text(500)] = Field(
        default=None, description="Payment terms as printed on the invoice."
    )


class InvoiceIn(_Inbound):
    """An invoice for a public buyer, as an ERP submits it."""

    invoice_number: Annotated[str | None, *_text(64)] = Field(
        default=None, examples=["F2026-000123"]
    )
    type: Literal["invoice", "credit_note"] = "invoice"
    issue_date: IsoDate = Field(default=None, examples=["2026-11-20"])
    due_date: IsoDate = None
    currency: Annotated[str | None, *_text(8, _code)] = "EUR"
    supplier: SupplierIn | None = None
    buyer: BuyerIn | None = None
    legal_commitment: Annotated[str | None, *_text(64, _code)] = Field(
        default=None, description="Engagement juridique (EJ).", examples=["1234567890"]
    )
    framework: Annotated[str | None, *_text(64, _code)] = Field(
        default=DEFAULT_FRAMEWORK, description="Chorus cadre de facturation."
    )
    lines: list[LineIn] | None = Field(default=None, max_length=10_000)
    totals: TotalsIn | None = None
    preceding_invoice: Annotated[str | None, *_text(64)] = Field(
        default=None, description="For a credit note: the invoice it cancels."
    )
    note: Annotated[str | None, *_text(2000)] = None
    validator_siret: Siret = Field(
        default=None,
        description="For A9_FACTURE_SOUSTRAITANT and A12_FACTURE_COTRAITANT: the SIRET of the "
        "structure that validates the invoice (Chorus codeStructureValideur).",
    )
    vat_regime: Annotated[str | None, *_text(32, _code)] = Field(
        default=None,
        description=f"Chorus typeTva, one of {', '.join(VAT_REGIMES)}; default: the supplier "
        "structure's, else TVA_SUR_DEBIT.",
    )
    vat_exemption_reason: Annotated[str | None, *_text(255)] = Field(
        default=None,
        description="Why no VAT applies (Chorus motifExonerationTva): required with EXONERATION "
        "and whenever a line has a 0 % rate; default: the supplier structure's.",
    )
    payment: PaymentIn | None = None
    contract_reference: Annotated[str | None, *_text(200)] = Field(
        default=None,
        description=f"Numéro de marché (Chorus numeroMarche), at most "
        f"{CONTRACT_REFERENCE_MAX_LENGTH} characters.",
    )


class AddressOut(BaseModel):
    """A postal address as the invoice gave it."""

    line1: str | None
    line2: str | None
    postal_code: str | None
    city: str | None
    country_code: str | None


class SupplierOut(BaseModel):
    """The supplier as stored."""

    siret: str
    name: str | None
    vat_number: str | None
    address: AddressOut | None = None


class BuyerOut(BaseModel):
    """The buyer as stored."""

    siret: str
    service_code: str | None
    name: str | None
    address: AddressOut | None = None


class TotalsOut(BaseModel):
    """Totals as decimal strings."""

    net: Money
    vat: Money
    gross: Money


class LineOut(BaseModel):
    """A stored line."""

    description: str
    quantity: Exact
    unit_price: Money
    vat_rate: Exact
    net_amount: Money
    unit: str | None
    reference: str | None
    unit_code: str = DEFAULT_UNIT_CODE


class ChorusRejection(BaseModel):
    """Why Chorus Pro (or the buyer) refused the invoice."""

    code: str | None
    label: str | None


class ChorusOut(BaseModel):
    """The invoice as Chorus Pro knows it, and the way it went there."""

    invoice_id: int | None
    number: str | None = Field(
        default=None,
        description="The number Chorus shows the buyer: the invoice's own, except in "
        "SAISIE_API where Chorus numbers it itself.",
    )
    channel: Literal["flux", "pdf", "saisie"] = Field(
        default="saisie",
        description="flux: deposer/flux with a structured document; pdf: soumettre with the "
        "ERP's PDF (DEPOT_PDF_API); saisie: soumettre as data (SAISIE_API).",
    )
    syntax: str | None = Field(
        default=None,
        description="Chorus's name of what is sent: the flux syntax (IN_DP_E1_CII_16B, "
        "IN_DP_E1_UBL_INVOICE, IN_DP_E2_CII_FACTURX) or the mode (DEPOT_PDF_API, SAISIE_API).",
    )
    flux_id: str | None = Field(default=None, description="numeroFluxDepot, once deposited.")
    flux_number: str | None = Field(description="The same as flux_id (kept for older clients).")
    status: str | None
    status_at: datetime | None
    rejection: ChorusRejection | None


class FailureOut(BaseModel):
    """Why the gateway stopped delivering a `failed` invoice."""

    code: str | None = Field(
        description="FORMAT_INVALID, AMBIGUOUS_DELIVERY, FLUX_INCIDENT, FLUX_TIMEOUT, or null "
        "when the retry budget was spent."
    )
    detail: str | None


class HistoryOut(BaseModel):
    """One status change."""

    at: datetime
    status: str
    chorus_status: str | None
    detail: str | None


class ValidationOut(BaseModel):
    """How the invoice was validated: `online` used Chorus's directory, `offline` could not."""

    mode: Literal["online", "offline"]


# The values of `domain.lifecycle.InvoiceStatus`; a Literal keeps them inline in the spec.
InvoiceStatusName = Literal["queued", "submitted", "rejected", "paid", "failed"]


class PdfOut(BaseModel):
    """Where to fetch the PDF the invoice was sent with."""

    url: str


class DocumentOut(BaseModel):
    """The invoice PDF's signature: a signed PDF is sent as is (DEPOT_PDF_SIGNE_API)."""

    signed: bool
    signer: str | None = Field(description="The signing certificate's common name.")
    signed_at: datetime | None = Field(
        description="The signature's timestamp, else the time the signer declared."
    )


class AttachmentsOut(BaseModel):
    """The supporting documents sent with the invoice."""

    count: int
    url: str


class AttachmentOut(BaseModel):
    """One supporting document."""

    position: int = Field(description="1, 2, ...: the `n` of its URL.")
    filename: str
    content_type: str
    size: int
    sha256: str
    url: str


class AttachmentList(BaseModel):
    """An invoice's supporting documents, in the order received."""

    items: list[AttachmentOut]


class PaymentOut(BaseModel):
    """The payment means sent to Chorus Pro, and the account."""

    means: str | None
    iban: str | None
    bic: str | None
    terms: str | None


class InvoiceOut(BaseModel):
    """The invoice resource."""

    id: str
    status: InvoiceStatusName
    created_at: datetime
    updated_at: datetime
    invoice_number: str
    type: Literal["invoice", "credit_note"]
    issue_date: date
    due_date: date | None
    currency: str
    framework: str
    supplier: SupplierOut
    buyer: BuyerOut
    legal_commitment: str | None
    preceding_invoice: str | None
    note: str | None
    validator_siret: str | None
    vat_regime: str
    vat_exemption_reason: str | None
    payment: PaymentOut | None
    contract_reference: str | None = None
    lines: list[LineOut]
    totals: TotalsOut
    pdf: PdfOut | None
    document: DocumentOut | None = Field(
        default=None, description="The PDF's signature; null for an invoice without a PDF."
    )
    attachments: AttachmentsOut | None = None
    validation: ValidationOut
    chorus: ChorusOut
    failure: FailureOut | None = None
    history: list[HistoryOut]


class InvoicePage(BaseModel):
    """One page of invoices, newest first; pass `next_cursor` as `cursor` for the next page."""

    items: list[InvoiceOut]
    next_cursor: str | None


class ValidationResult(BaseModel):
    """A valid invoice, normalized, with its computed totals."""

    valid: Literal[True] = True
    validation: ValidationOut
    invoice: InvoiceIn
