"""Every rule Chorus Pro would refuse an invoice for, checked at once on plain values.

`validate_invoice` never stops at the first problem: ERPs fix a rejected invoice in one round
trip only if they hear about all of its problems together.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from app.domain.identifiers import (
    INVOICE_NUMBER_MAX_LENGTH,
    OTHER_BUYER_EJ_MAX_LENGTH,
    PUBLIC_TO_PUBLIC_SERVICE,
    STATE_SIRET,
    is_valid_bic,
    is_valid_french_vat_number,
    is_valid_iban,
    is_valid_invoice_number,
    is_valid_service_code,
    is_valid_siret,
)
from app.domain.invoice import (
    CENT,
    CONTRACT_REFERENCE_MAX_LENGTH,
    EXEMPT_VAT_REGIMES,
    FRAMEWORKS,
    FRAMEWORKS_WITH_VALIDATOR,
    MAX_AMOUNT,
    PAYMENT_MEANS,
    SUBMITTABLE_FRAMEWORKS,
    VAT_REGIMES,
    Address,
    InvoiceDraft,
    InvoiceType,
    Line,
    compute_totals,
)
from app.domain.violations import Code, Violation


@dataclass(frozen=True, slots=True)
class BuyerRequirements:
    """What Chorus's directory says a buyer needs (online validation), when it could be asked."""

    known: bool = True
    ej_required: bool = False
    service_required: bool = False
    ej_or_service_required: bool = False
    active_service_codes: frozenset[str] | None = None
    # The buyer's name in the directory (`raisonSocialeStructure`), the document's BT-44
    # when the invoice gives none.
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ValidationPolicy:
    """The settings and caller rights the rules depend on."""

    today: date
    allowed_buyer_sirets: frozenset[str] = frozenset({STATE_SIRET})
    # None: any supplier (the caller's own limits are checked elsewhere, e.g. in /validate).
    allowed_supplier_sirets: frozenset[str] | None = None
    allowed_currencies: frozenset[str] = frozenset({"EUR"})
    allowed_vat_rates: frozenset[Decimal] = frozenset(
        Decimal(rate) for rate in ("0", "2.1", "5.5", "10", "20")
    )
    # 10 digits as the qualification EJs show; unconfirmed for production (chorus-pro.md §6).
    state_ej_pattern: str = r"^[0-9]{10}$"
    max_lines: int = 1000
    max_future_issue_days: int = 1
    # A PDF invoice may come without lines when its totals are given.
    lines_optional: bool = False
    buyer_requirements: BuyerRequirements | None = None
    # Whether the supplier has a registered structure (technical account); None: not asked.
    supplier_registered: bool | None = None
    # UN/ECE rec 20 codes a line's unit_code may take; None: not checked (the caller passes the
    # official list, which the pure domain does not read itself).
    unit_codes: frozenset[str] | None = None
    # Fields the parser already reported as malformed: no second violation for the same field.
    already_reported: frozenset[str] = field(default_factory=frozenset)
    # The invoice is delivered as an EN 16931 document (CII, UBL, Factur-X): what that document
    # cannot carry, or the official schematron would refuse, is refused at submission.
    structured_document: bool = False
    # The supplier structure's registered address, the seller's when the invoice gives none.
    registered_supplier_address: Address | None = None
    # ISO 3166-1 alpha-2 codes EN 16931 accepts (BR-CL-14); None: not checked (the caller
    # passes the official list, as for unit codes).
    country_codes: frozenset[str] | None = None


def validate_invoice(draft: InvoiceDraft, policy: ValidationPolicy) -> list[Violation]:
    """All the violations of `draft` under `policy`, in a stable order."""
    checks = (
        _invoice_number,
        _dates,
        _currency_and_framework,
        _supplier,
        _buyer,
        _routing_codes,
        _credit_note,
        _lines,
        _totals,
        _vat_regime,
        _payment,
        _addresses,
        _contract_reference,
        _structured_document,
    )
    return [
        violation
        for check in checks
        for violation in check(draft, policy)
        if violation.field not in policy.already_reported
    ]


def _required(field_path: str, what: str) -> Violation:
    return Violation(field_path, Code.FIELD_REQUIRED, f"{what} is required.")


def _invoice_number(draft: InvoiceDraft, policy: ValidationPolicy) -> Iterator[Violation]:
    number = draft.invoice_number
    if number is None:
        yield Violation("invoice_number", Code.INVOICE_NUMBER_INVALID, "Invoice number is empty.")
    elif len(number) > INVOICE_NUMBER_MAX_LENGTH:
        yield Violation(
            "invoice_number",
            Code.INVOICE_NUMBER_INVALID,
            f"Invoice number has {len(number)} characters; Chorus Pro accepts at most "
            f"{INVOICE_NUMBER_MAX_LENGTH}.",
        )
    elif not is_valid_invoice_number(number):
        yield Violation(
            "invoice_number",
            Code.INVOICE_NUMBER_INVALID,
            "Invoice number may only hold letters, digits and - _ . / (starting with a letter "
            "or digit).",
        )


def _dates(draft: InvoiceDraft, policy: ValidationPolicy) -> Iterator[Violation]:
    if draft.issue_date is None:
        yield _required("issue_date", "Issue date")
    elif draft.issue_date > policy.today + timedelta(days=policy.max_future_issue_days):
        yield Violation("issue_date", Code.FIELD_INVALID, "Issue date is in the future.")
    if (
        draft.due_date is not None
        and draft.issue_date is not None
        and draft.due_date < draft.issue_date
    ):
        yield Violation("due_date", Code.FIELD_INVALID, "Due date is before the issue date.")


def _currency_and_framework(draft: InvoiceDraft, policy: ValidationPolicy) -> Iterator[Violation]:
    if draft.currency is None:
        yield _required("currency", "Currency")
    elif draft.currency not in policy.allowed_currencies:
        accepted = ", ".join(sorted(policy.allowed_currencies))
        yield Violation(
            "currency",
            Code.FIELD_INVALID,
            f"Currency {draft.currency} is not accepted by this gateway (accepted: {accepted}).",
        )
    if draft.framework is None:
        yield _required("framework", "Framework (cadre de facturation)")
    elif draft.framework not in FRAMEWORKS:
        yield Violation(
            "framework",
            Code.FIELD_INVALID,
            f"{draft.framework} is not a Chorus Pro cadre de facturation.",
        )
    elif draft.framework not in SUBMITTABLE_FRAMEWORKS:
        accepted = ", ".join(sorted(SUBMITTABLE_FRAMEWORKS, key=_framework_order))
        yield Violation(
            "framework",
            Code.FIELD_INVALID,
            f"Chorus Pro does not take {draft.framework} through the API deposit; "
            f"accepted: {accepted}.",
        )
    yield from _validator(draft)


def _framework_order(code: str) -> int:
    return int(code[1 : code.index("_")])


def _validator(draft: InvoiceDraft) -> Iterator[Violation]:
    validator = draft.validator_siret
    if draft.framework in FRAMEWORKS_WITH_VALIDATOR:
        yield from _siret("validator_siret", validator, f"{draft.framework} validator's")
    elif validator is not None:
        yield Violation(
            "validator_siret",
            Code.FIELD_INVALID,
            "A validator structure is only for A9_FACTURE_SOUSTRAITANT and "
            "A12_FACTURE_COTRAITANT invoices.",
        )


def _siret(field_path: str, value: str | None, whose: str) -> Iterator[Violation]:
    if value is None:
        yield _required(field_path, f"The {whose} SIRET")
    elif not is_valid_siret(value):
        yield Violation(
            field_path,
            Code.SIRET_INVALID,
            f"The {whose} SIRET must be 14 digits with a valid checksum.",
        )


def _supplier(draft: InvoiceDraft, policy: ValidationPolicy) -> Iterator[Violation]:
    siret = draft.supplier.siret
    yield from _siret("supplier.siret", siret, "supplier")
    if (
        siret is not None
        and is_valid_siret(siret)
        and policy.allowed_supplier_sirets is not None
        and siret not in policy.allowed_supplier_sirets
    ):
        yield Violation(
            "supplier.siret",
            Code.SUPPLIER_NOT_ALLOWED,
            f"This API client may not invoice for supplier {siret}.",
        )
    elif siret is not None and policy.supplier_registered is False:
        yield Violation(
            "supplier.siret",
            Code.SUPPLIER_NOT_REGISTERED,
            f"Supplier {siret} has no registered Chorus Pro structure (technical account), so "
            "the invoice could never be delivered; register it first (POST /v1/structures).",
        )
    vat_number = draft.supplier.vat_number
    if vat_number is not None:
        if not is_valid_french_vat_number(vat_number):
            yield Violation(
                "supplier.vat_number",
                Code.FIELD_INVALID,
                "The supplier VAT number is not a valid French VAT number (FR + key + SIREN).",
            )
        elif siret is not None and vat_number[-9:] != siret[:9]:
            yield Violation(
                "supplier.vat_number",
                Code.FIELD_INVALID,
                "The supplier VAT number does not belong to the supplier's SIREN.",
            )


def _buyer(draft: InvoiceDraft, policy: ValidationPolicy) -> Iterator[Violation]:
    siret = draft.buyer.siret
    yield from _siret("buyer.siret", siret, "buyer")
    if siret is None or not is_valid_siret(siret):
        return
    if siret not in policy.allowed_buyer_sirets:
        yield Violation(
            "buyer.siret",
            Code.BUYER_NOT_ALLOWED,
            f"This gateway is not configured to invoice buyer {siret}.",
        )
    elif policy.buyer_requirements is not None and not policy.buyer_requirements.known:
        yield Violation(
            "buyer.siret",
            Code.BUYER_NOT_ALLOWED,
            f"Buyer {siret} is not an active structure in Chorus Pro's directory.",
        )


def _routing_codes(draft: InvoiceDraft, policy: ValidationPolicy) -> Iterator[Violation]:
    """EJ and SE: mandatory for the State, otherwise per the buyer's directory flags."""
    ej, service = draft.legal_commitment, draft.buyer.service_code
    is_state = draft.buyer.siret == STATE_SIRET
    needs = policy.buyer_requirements or BuyerRequirements(
        ej_required=is_state, service_required=is_state
    )
    if ej is None and (needs.ej_required or (needs.ej_or_service_required and service is None)):
        yield Violation(
            "legal_commitment",
            Code.EJ_REQUIRED,
            "The buyer requires an engagement juridique (EJ, purchase-order number).",
        )
    elif ej is not None:
        if is_state and re.fullmatch(policy.state_ej_pattern, ej) is None:
            yield Violation(
                "legal_commitment", Code.EJ_INVALID, "The State's EJ number is 10 digits."
            )
        elif len(ej) > OTHER_BUYER_EJ_MAX_LENGTH:
            yield Violation(
                "legal_commitment",
                Code.EJ_INVALID,
                f"An EJ number has at most {OTHER_BUYER_EJ_MAX_LENGTH} characters.",
            )
    if service is None and needs.service_required:
        yield Violation(
            "buyer.service_code",
            Code.SE_REQUIRED,
            "The buyer requires a code service exécutant (SE).",
        )
    elif service is not None:
        if service == PUBLIC_TO_PUBLIC_SERVICE:
            yield Violation(
                "buyer.service_code",
                Code.SE_INVALID,
                "FACTURES_PUBLIQUES is reserved for invoices between public bodies.",
            )
        elif not is_valid_service_code(service):
            yield Violation(
                "buyer.service_code",
                Code.SE_INVALID,
                "An SE code is 1 to 100 characters of A-Z, 0-9 and _.",
            )
        elif needs.active_service_codes is not None and service not in needs.active_service_codes:
            yield Violation(
                "buyer.service_code",
                Code.SE_INVALID,
                f"Service {service} does not exist or is not active for this buyer in Chorus Pro.",
            )


def _credit_note(draft: InvoiceDraft, policy: ValidationPolicy) -> Iterator[Violation]:
    if draft.type is InvoiceType.CREDIT_NOTE and draft.preceding_invoice is None:
        yield _required("preceding_invoice", "A credit note's preceding invoice number")


def _lines(draft: InvoiceDraft, policy: ValidationPolicy) -> Iterator[Violation]:
    if not draft.lines:
        if not policy.lines_optional:
            yield _required("lines", "At least one line")
        return
    if len(draft.lines) > policy.max_lines:
        yield Violation(
            "lines", Code.FIELD_INVALID, f"An invoice has at most {policy.max_lines} lines."
        )
    for index, line in enumerate(draft.lines):
        yield from _line(f"lines.{index}", line, policy)


def _line(prefix: str, line: Line, policy: ValidationPolicy) -> Iterator[Violation]:
    if line.description is None:
        yield _required(f"{prefix}.description", "Line description")
    if line.quantity is None:
        yield _required(f"{prefix}.quantity", "Line quantity")
    elif line.quantity == 0:
        yield Violation(f"{prefix}.quantity", Code.FIELD_INVALID, "Line quantity is zero.")
    if line.unit_price is None:
        yield _required(f"{prefix}.unit_price", "Line unit price")
    elif line.unit_price < 0:
        yield Violation(
            f"{prefix}.unit_price",
            Code.FIELD_INVALID,
            "Unit price is negative; use a negative quantity for a discount line.",
        )
    if line.vat_rate is None:
        yield _required(f"{prefix}.vat_rate", "Line VAT rate")
    elif line.vat_rate not in policy.allowed_vat_rates:
        accepted = ", ".join(f"{rate.normalize():f}" for rate in sorted(policy.allowed_vat_rates))
        yield Violation(
            f"{prefix}.vat_rate",
            Code.FIELD_INVALID,
            f"VAT rate {line.vat_rate:f} % is not a French rate (accepted: {accepted}).",
        )
    if (
        line.unit_code is not None
        and policy.unit_codes is not None
        and line.unit_code not in policy.unit_codes
    ):
        yield Violation(
            f"{prefix}.unit_code",
            Code.FIELD_INVALID,
            f"{line.unit_code} is not a UN/ECE recommendation 20 unit code (e.g. C62 for a "
            "unit, HUR for an hour, DAY for a day); leave it out for C62.",
        )
    net = line.net_amount
    if net is not None and abs(net) > MAX_AMOUNT:
        yield Violation(
            prefix,
            Code.FIELD_INVALID,
            f"The line's net amount (quantity times unit price) is {net:f}; the limit is "
            f"{MAX_AMOUNT} per line.",
        )


def _lines_computable(lines: tuple[Line, ...], policy: ValidationPolicy) -> bool:
    """Whether the lines are sound enough that comparing totals with them means something."""
    return bool(lines) and all(
        line.quantity is not None
        and line.unit_price is not None
        and line.vat_rate in policy.allowed_vat_rates
        and abs(_net(line)) <= MAX_AMOUNT
        for line in lines
    )


def _net(line: Line) -> Decimal:
    """The net of a line known to have its quantity and unit price."""
    net = line.net_amount
    if net is None:
        raise ValueError("a line without quantity or unit price has no net amount")
    return net


def _totals(draft: InvoiceDraft, policy: ValidationPolicy) -> Iterator[Violation]:
    given = draft.totals
    if given is None:
        if not draft.lines and policy.lines_optional:
            yield _required("totals", "Totals (an invoice without lines)")
        elif _lines_computable(draft.lines, policy):
            computed = compute_totals(draft.lines)
            # Credit notes too: Chorus and EN 16931 take them (AVOIR, 381) with positive amounts.
            if computed.gross <= 0:
                yield Violation("lines", Code.FIELD_INVALID, "The invoice total must be positive.")
            elif max(abs(computed.net), abs(computed.vat), abs(computed.gross)) > MAX_AMOUNT:
                yield Violation(
                    "lines",
                    Code.FIELD_INVALID,
                    f"The lines add up to a gross total of {computed.gross:f}; the limit for "
                    f"an invoice total is {MAX_AMOUNT}.",
                )
        return
    for name in ("net", "vat", "gross"):
        amount: Decimal = getattr(given, name)
        if abs(amount) > MAX_AMOUNT:
            yield Violation(
                f"totals.{name}", Code.FIELD_INVALID, f"A total is at most {MAX_AMOUNT}."
            )
        elif amount != amount.quantize(CENT):
            yield Violation(f"totals.{name}", Code.FIELD_INVALID, "Totals are amounts to the cent.")
    internally_consistent = given.net + given.vat == given.gross
    if not internally_consistent:
        yield Violation(
            "totals.gross",
            Code.TOTALS_MISMATCH,
            f"Gross {given.gross} is not net {given.net} + VAT {given.vat}.",
        )
    if given.gross <= 0:
        yield Violation("totals.gross", Code.FIELD_INVALID, "The invoice total must be positive.")
    if not _lines_computable(draft.lines, policy):
        return
    computed = compute_totals(draft.lines)
    # An inconsistent gross was reported above; comparing it again would say the same twice.
    for name in ("net", "vat", "gross") if internally_consistent else ("net", "vat"):
        stated: Decimal = getattr(given, name)
        expected: Decimal = getattr(computed, name)
        if stated != expected:
            yield Violation(
                f"totals.{name}",
                Code.TOTALS_MISMATCH,
                f"Totals say {name} {stated}; the lines add up to {expected}.",
            )


def _vat_regime(draft: InvoiceDraft, policy: ValidationPolicy) -> Iterator[Violation]:
    regime = draft.vat_regime
    if regime not in VAT_REGIMES:
        yield Violation(
            "vat_regime",
            Code.FIELD_INVALID,
            f"{regime} is not a Chorus Pro VAT regime (accepted: {', '.join(VAT_REGIMES)}).",
        )
        return
    zero_rated = [i for i, line in enumerate(draft.lines) if line.vat_rate == 0]
    if draft.vat_exemption_reason is None and (regime == "EXONERATION" or zero_rated):
        why = (
            "An EXONERATION invoice"
            if regime == "EXONERATION"
            else f"lines.{zero_rated[0]} has a 0 % VAT rate, so the invoice"
        )
        yield Violation(
            "vat_exemption_reason",
            Code.VAT_EXEMPTION_REASON_REQUIRED,
            f"{why} must state why no VAT applies (vat_exemption_reason, e.g. "
            "'TVA non applicable, art. 293 B du CGI').",
        )
    if regime not in EXEMPT_VAT_REGIMES:
        return
    for index, line in enumerate(draft.lines):
        if line.vat_rate is not None and line.vat_rate != 0:
            yield Violation(
                f"lines.{index}.vat_rate",
                Code.FIELD_INVALID,
                f"Under the VAT regime {regime} every line's VAT rate is 0.",
            )
    if draft.totals is not None and draft.totals.vat != 0:
        yield Violation(
            "totals.vat", Code.FIELD_INVALID, f"Under the VAT regime {regime} the VAT is 0."
        )


def _payment(draft: InvoiceDraft, policy: ValidationPolicy) -> Iterator[Violation]:
    payment = draft.payment
    if payment is None:
        return
    if draft.type is InvoiceType.CREDIT_NOTE:
        # Chorus refuses a payment method on a credit note (chorus-pro.md §6).
        yield Violation("payment", Code.FIELD_INVALID, "A credit note carries no payment means.")
        return
    if payment.means is not None and payment.means not in PAYMENT_MEANS:
        yield Violation(
            "payment.means",
            Code.FIELD_INVALID,
            f"{payment.means} is not a Chorus Pro payment means "
            f"(accepted: {', '.join(PAYMENT_MEANS)}).",
        )
    if payment.iban is not None and not is_valid_iban(payment.iban):
        yield Violation(
            "payment.iban",
            Code.FIELD_INVALID,
            "Not a valid IBAN (country code, check digits, national format); Chorus Pro "
            "accepts bank accounts as IBAN only.",
        )
    if payment.bic is not None and not is_valid_bic(payment.bic):
        yield Violation(
            "payment.bic", Code.FIELD_INVALID, "Not a valid BIC (8 or 11 letters and digits)."
        )


_COUNTRY_CODE = re.compile(r"[A-Z]{2}")
_FRENCH_POSTAL_CODE = re.compile(r"[0-9]{5}")


def _addresses(draft: InvoiceDraft, policy: ValidationPolicy) -> Iterator[Violation]:
    yield from address_violations("supplier.address", draft.supplier.address)
    yield from address_violations("buyer.address", draft.buyer.address)


def address_violations(prefix: str, address: Address | None) -> Iterator[Violation]:
    """What is wrong with a normalized postal address (fields under `prefix`)."""
    # EN 16931 requires the country of both parties' addresses (BR-09, BR-11); the rest is
    # optional there, so only its form is checked.
    if address is None:
        return
    country = address.country_code
    if country is None:
        yield _required(
            f"{prefix}.country_code", "An address's country (ISO 3166-1 alpha-2, e.g. FR)"
        )
    elif _COUNTRY_CODE.fullmatch(country) is None:
        yield Violation(
            f"{prefix}.country_code",
            Code.FIELD_INVALID,
            f"{country} is not an ISO 3166-1 alpha-2 country code (two letters, e.g. FR).",
        )
    elif (
        country == "FR"
        and address.postal_code is not None
        and _FRENCH_POSTAL_CODE.fullmatch(address.postal_code) is None
    ):
        yield Violation(
            f"{prefix}.postal_code",
            Code.FIELD_INVALID,
            "A French postal code is 5 digits (CEDEX and the like go with the city).",
        )


def _contract_reference(draft: InvoiceDraft, policy: ValidationPolicy) -> Iterator[Violation]:
    reference = draft.contract_reference
    if reference is not None and len(reference) > CONTRACT_REFERENCE_MAX_LENGTH:
        yield Violation(
            "contract_reference",
            Code.FIELD_INVALID,
            f"The contract reference (numéro de marché) has {len(reference)} characters; "
            f"Chorus Pro accepts at most {CONTRACT_REFERENCE_MAX_LENGTH}.",
        )


# XML 1.0's `Char` production: anything else (C0 controls but tab and line ends, U+FFFE,
# U+FFFF) cannot be written in an XML document at all.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Only the seller's VAT identifier is carried (no BT-32 tax registration, no BT-63 tax
# representative), so every VAT category but O (SANS_TVA) needs it: BR-S-02, BR-Z-02, BR-E-02.
_REGIME_WITHOUT_VAT_ID = "SANS_TVA"


def _structured_document(draft: InvoiceDraft, policy: ValidationPolicy) -> Iterator[Violation]:
    """What an EN 16931 document needs beyond Chorus's own rules (structured channels only)."""
    if not policy.structured_document:
        return
    yield from _xml_text(draft)
    if not draft.lines and policy.lines_optional:
        yield Violation(
            "lines",
            Code.FIELD_REQUIRED,
            "A Factur-X invoice carries its lines (EN 16931 BR-16).",
        )
    if draft.supplier.name is None:
        yield Violation(
            "supplier.name",
            Code.FIELD_REQUIRED,
            "The seller's name is required in an EN 16931 invoice (BR-06).",
        )
    yield from _document_countries(draft, policy)
    siret = draft.supplier.siret
    supplier_known = policy.supplier_registered is not False and (
        policy.allowed_supplier_sirets is None or siret in policy.allowed_supplier_sirets
    )
    # A supplier the caller may not use, or without a structure, was refused already; what its
    # structure holds is none of the caller's business.
    if supplier_known:
        yield from _seller_address(draft, policy)
        if draft.supplier.vat_number is None and draft.vat_regime != _REGIME_WITHOUT_VAT_ID:
            yield Violation(
                "supplier.vat_number",
                Code.FIELD_REQUIRED,
                "An EN 16931 invoice with VAT or exempt lines carries the seller's VAT number "
                "(BR-S-02, BR-E-02): give supplier.vat_number, or register it on the supplier "
                "structure.",
            )
    needs = policy.buyer_requirements
    # Offline, Chorus's directory is asked at delivery: every structure there has a name.
    if draft.buyer.name is None and needs is not None and needs.known and needs.name is None:
        yield Violation(
            "buyer.name",
            Code.FIELD_REQUIRED,
            "The buyer's name is required in an EN 16931 invoice (BR-07) and Chorus Pro's "
            "directory has none for this buyer.",
        )


def _seller_address(draft: InvoiceDraft, policy: ValidationPolicy) -> Iterator[Violation]:
    if draft.supplier.address is not None:
        return  # its own rules (address_violations) apply
    registered = policy.registered_supplier_address
    country = registered.country_code if registered else None
    if country is None:
        yield Violation(
            "supplier.address",
            Code.FIELD_REQUIRED,
            "An EN 16931 invoice carries the seller's postal address with its country "
            "(BR-08, BR-09): give supplier.address, or register the address on the supplier "
            "structure.",
        )
    elif policy.country_codes is not None and country not in policy.country_codes:
        yield Violation(
            "supplier.address",
            Code.FIELD_INVALID,
            f"The supplier structure's registered country {country} is not an ISO 3166-1 "
            "code EN 16931 accepts (BR-CL-14): give supplier.address, or fix the structure's.",
        )


def _document_countries(draft: InvoiceDraft, policy: ValidationPolicy) -> Iterator[Violation]:
    if policy.country_codes is None:
        return
    for prefix, address in (
        ("supplier.address", draft.supplier.address),
        ("buyer.address", draft.buyer.address),
    ):
        country = address.country_code if address else None
        # A malformed code was reported by address_violations already.
        if (
            country is not None
            and _COUNTRY_CODE.fullmatch(country) is not None
            and country not in policy.country_codes
        ):
            yield Violation(
                f"{prefix}.country_code",
                Code.FIELD_INVALID,
                f"{country} is not an ISO 3166-1 country code EN 16931 accepts (BR-CL-14).",
            )


def _xml_text(draft: InvoiceDraft) -> Iterator[Violation]:
    for field_path, value in _texts(draft):
        if value is not None and _NOT_XML_CHAR.search(value) is not None:
            yield Violation(
                field_path,
                Code.FIELD_INVALID,
                "Text holds a control character (or U+FFFE, U+FFFF) that an XML invoice "
                "cannot carry; tab and line breaks are fine.",
            )


def _texts(draft: InvoiceDraft) -> Iterator[tuple[str, str | None]]:
    """Every text of the invoice that goes into the document, by field path."""
    yield from (
        ("invoice_number", draft.invoice_number),
        ("legal_commitment", draft.legal_commitment),
        ("preceding_invoice", draft.preceding_invoice),
        ("note", draft.note),
        ("vat_exemption_reason", draft.vat_exemption_reason),
        ("contract_reference", draft.contract_reference),
        ("supplier.name", draft.supplier.name),
        ("buyer.name", draft.buyer.name),
        ("buyer.service_code", draft.buyer.service_code),
    )
    for prefix, address in (
        ("supplier.address", draft.supplier.address),
        ("buyer.address", draft.buyer.address),
    ):
        if address is not None:
            yield from (
                (f"{prefix}.line1", address.line1),
                (f"{prefix}.line2", address.line2),
                (f"{prefix}.postal_code", address.postal_code),
                (f"{prefix}.city", address.city),
            )
    if draft.payment is not None:
        yield ("payment.terms", draft.payment.terms)
    for index, line in enumerate(draft.lines):
        yield from (
            (f"lines.{index}.description", line.description),
            (f"lines.{index}.reference", line.reference),
        )
