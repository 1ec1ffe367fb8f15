"""From request bytes to a normalized draft, collecting every problem instead of stopping."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from pydantic import ValidationError

from app.domain.invoice import (
    DEFAULT_VAT_REGIME,
    Address,
    Buyer,
    InvoiceDraft,
    InvoiceType,
    Line,
    Payment,
    Supplier,
    Totals,
)
from app.domain.violations import Code, Violation
from app.errors import MalformedRequest
from app.invoices.schemas import AddressIn, InvoiceIn


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def decode_json_body(body: bytes) -> dict[str, Any]:
    """The JSON object in `body`, numbers as exact decimals; 400 if it is not one."""
    try:
        document = json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise MalformedRequest("The body is not UTF-8 text.") from exc
    except ValueError as exc:  # JSONDecodeError, too many digits, NaN/Infinity
        raise MalformedRequest(f"The body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise MalformedRequest("The body nests too deeply.") from exc
    if not isinstance(document, dict):
        raise MalformedRequest("The body must be a JSON object.")
    return document


@dataclass(frozen=True, slots=True)
class ParsedInvoice:
    """The normalized invoice (None if nothing could be read) and the problems met reading it."""

    invoice: InvoiceIn | None
    violations: list[Violation]


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _to_violation(error: Any) -> Violation:
    path = _field_path(tuple(error["loc"]))
    if error["type"] == "extra_forbidden":
        return Violation(path, Code.FIELD_INVALID, "Unknown field.")
    if error["type"] == "missing":
        return Violation(path, Code.FIELD_REQUIRED, "Field is required.")
    if error["type"] == "value_error":
        return Violation(path, Code.FIELD_INVALID, str(error["ctx"]["error"]))
    return Violation(path, Code.FIELD_INVALID, str(error["msg"]))


def _remove(document: Any, loc: tuple[int | str, ...]) -> None:
    """Drop the value at `loc` so the rest of the document can still be read."""
    *parents, last = loc
    node = document
    for part in parents:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(node, dict):
        node.pop(last, None)
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        node[last] = {}


def _nul_locations(node: Any, loc: tuple[int | str, ...] = ()) -> Iterator[tuple[int | str, ...]]:
    """Where a string (or a key) holds U+0000, which PostgreSQL text cannot store."""
    if isinstance(node, str):
        if "\x00" in node:
            yield loc
    elif isinstance(node, dict):
        for key, value in node.items():
            if "\x00" in key:
                yield (*loc, key)
            else:
                yield from _nul_locations(value, (*loc, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nul_locations(value, (*loc, index))


def parse_invoice(document: dict[str, Any]) -> ParsedInvoice:
    """Normalize `document`; malformed fields are reported and left out, the rest still read."""
    nul_violations: list[Violation] = []
    nul_locations = list(_nul_locations(document))
    if nul_locations:
        document = copy.deepcopy(document)
        for loc in nul_locations:
            nul_violations.append(
                Violation(
                    _field_path(loc).replace("\x00", "\\u0000"),
                    Code.FIELD_INVALID,
                    "Text may not contain NUL characters (\\u0000).",
                )
            )
            _remove(document, loc)
    try:
        return ParsedInvoice(InvoiceIn.model_validate(document), nul_violations)
    except ValidationError as first:
        errors = first.errors()
    violations = [*nul_violations, *(_to_violation(error) for error in errors)]
    pruned = copy.deepcopy(document)
    for error in errors:
        loc = tuple(error["loc"])
        if loc:
            _remove(pruned, loc)
    try:
        return ParsedInvoice(InvoiceIn.model_validate(pruned), violations)
    except ValidationError:
        return ParsedInvoice(None, violations)


def totals_violations(invoice: InvoiceIn) -> list[Violation]:
    """Totals are all-or-nothing: a partial set is reported field by field."""
    if invoice.totals is None:
        return []
    return [
        Violation(f"totals.{name}", Code.FIELD_REQUIRED, f"totals.{name} is required.")
        for name in ("net", "vat", "gross")
        if getattr(invoice.totals, name) is None
    ]


class LineFields(Protocol):
    """A line as a request and a stored invoice both carry it."""

    @property
    def description(self) -> str | None: ...
    @property
    def quantity(self) -> Decimal | None: ...
    @property
    def unit_price(self) -> Decimal | None: ...
    @property
    def vat_rate(self) -> Decimal | None: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def reference(self) -> str | None: ...
    @property
    def unit_code(self) -> str | None: ...


def to_line(line: LineFields) -> Line:
    """The domain's view of a line, received or stored."""
    return Line(
        description=line.description,
        quantity=line.quantity,
        unit_price=line.unit_price,
        vat_rate=line.vat_rate,
        unit=line.unit,
        reference=line.reference,
        unit_code=line.unit_code,
    )


class DraftFields(Protocol):
    """The invoice fields a request and a stored invoice both carry under the same names."""

    @property
    def invoice_number(self) -> str | None: ...
    @property
    def type(self) -> str: ...
    @property
    def issue_date(self) -> date | None: ...
    @property
    def due_date(self) -> date | None: ...
    @property
    def currency(self) -> str | None: ...
    @property
    def legal_commitment(self) -> str | None: ...
    @property
    def framework(self) -> str | None: ...
    @property
    def preceding_invoice(self) -> str | None: ...
    @property
    def note(self) -> str | None: ...
    @property
    def vat_regime(self) -> str | None: ...
    @property
    def vat_exemption_reason(self) -> str | None: ...
    @property
    def validator_siret(self) -> str | None: ...
    @property
    def contract_reference(self) -> str | None: ...


def build_draft(
    invoice: DraftFields,
    *,
    supplier: Supplier,
    buyer: Buyer,
    lines: Iterable[LineFields],
    totals: Totals | None,
    payment: Payment | None,
) -> InvoiceDraft:
    """The domain's view of an invoice, received or stored, given the parts the two hold
    differently."""
    return InvoiceDraft(
        invoice_number=invoice.invoice_number,
        type=InvoiceType(invoice.type),
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        currency=invoice.currency,
        supplier=supplier,
        buyer=buyer,
        legal_commitment=invoice.legal_commitment,
        framework=invoice.framework,
        lines=tuple(to_line(line) for line in lines),
        totals=totals,
        preceding_invoice=invoice.preceding_invoice,
        note=invoice.note,
        vat_regime=invoice.vat_regime or DEFAULT_VAT_REGIME,
        vat_exemption_reason=invoice.vat_exemption_reason,
        payment=payment,
        validator_siret=invoice.validator_siret,
        contract_reference=invoice.contract_reference,
    )


def to_draft(invoice: InvoiceIn) -> InvoiceDraft:
    """The domain's view of a normalized invoice."""
    supplier = invoice.supplier
    buyer = invoice.buyer
    totals = invoice.totals
    complete_totals = (
        Totals(net=totals.net, vat=totals.vat, gross=totals.gross)
        if totals is not None
        and totals.net is not None
        and totals.vat is not None
        and totals.gross is not None
        else None
    )
    return build_draft(
        invoice,
        supplier=Supplier(
            siret=supplier.siret,
            name=supplier.name,
            vat_number=supplier.vat_number,
            address=to_address(supplier.address),
        )
        if supplier
        else Supplier(),
        buyer=Buyer(
            siret=buyer.siret,
            service_code=buyer.service_code,
            name=buyer.name,
            address=to_address(buyer.address),
        )
        if buyer
        else Buyer(),
        lines=invoice.lines or (),
        totals=complete_totals,
        payment=Payment(
            means=invoice.payment.means,
            iban=invoice.payment.iban,
            bic=invoice.payment.bic,
            terms=invoice.payment.terms,
        )
        if invoice.payment is not None
        else None,
    )


def to_address(address: AddressIn | None) -> Address | None:
    """The domain's address; one whose every field is empty is no address at all."""
    if address is None:
        return None
    fields = address.model_dump()
    if all(value is None for value in fields.values()):
        return None
    return Address(**fields)
