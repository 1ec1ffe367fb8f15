"""An invoice as the rules see it: plain values, exact decimals and the arithmetic of totals."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Literal, get_args

CENT = Decimal("0.01")
HUNDRED = Decimal(100)

DEFAULT_FRAMEWORK = "A1_FACTURE_FOURNISSEUR"
# Chorus's cadres de facturation (codeCadreFacturation); suppliers mostly use A1, A2, A9, A12.
FRAMEWORKS = frozenset(
    {
        "A1_FACTURE_FOURNISSEUR",
        "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE",
        "A3_MEMOIRE_JUSTICE",
        "A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR",
        "A5_ETAT_ACOMPTE_FOURNISSEUR",
        "A6_ETAT_ACOMPTE_VALIDE_FOURNISSEUR",
        "A7_PROJET_DECOMPTE_FINAL_FOURNISSEUR",
        "A8_DECOMPTE_GENERAL_DEFINITIF_FOURNISSEUR",
        "A9_FACTURE_SOUSTRAITANT",
        "A10_PROJET_DECOMPTE_MENSUEL_SOUSTRAITANT",
        "A11_PROJET_DECOMPTE_FINAL_SOUSTRAITANT",
        "A12_FACTURE_COTRAITANT",
        "A13_PROJET_DECOMPTE_MENSUEL_COTRAITANT",
        "A14_PROJET_DECOMPTE_FINAL_COTRAITANT",
        "A15_ETAT_ACOMPTE_MOE",
        "A16_ETAT_ACOMPTE_VALIDE_MOE",
        "A17_PROJET_DECOMPTE_GENERAL_MOE",
        "A18_DECOMPTE_GENERAL_MOE",
        "A19_ETAT_ACOMPTE_VALIDE_MOA",
        "A20_DECOMPTE_GENERAL_MOA",
        "A21_DEMANDE_REMBOURSEMENT_TIC",
        "A22_PROJET_DECOMPTE_GENERAL_FOURNISSEUR_PROCEDURE_TACITE",
        "A23_DECOMPTE_GENERAL_DEFINITIF_TACITE_FOURNISSEUR",
        "A24_DECOMPTE_GENERAL_DEFINITIF_TACITE_MOE",
        "A25_DECOMPTE_GENERAL_DEFINITIF_MOE_PROCEDURE_TACITE",
    }
)


# `soumettre` (SAISIE_API and DEPOT_PDF_API) takes only these per peers (chorus-pro.md §5.1);
# nothing says the PDF deposit accepts more, so both channels get the same list.
SUBMITTABLE_FRAMEWORKS = frozenset(
    {
        "A1_FACTURE_FOURNISSEUR",
        "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE",
        "A9_FACTURE_SOUSTRAITANT",
        "A12_FACTURE_COTRAITANT",
    }
)
# A subcontractor's or co-contractor's invoice is first validated by another structure.
FRAMEWORKS_WITH_VALIDATOR = frozenset({"A9_FACTURE_SOUSTRAITANT", "A12_FACTURE_COTRAITANT"})

# Chorus's `typeTva`; `TVA_SUR_DEBIT` is what peers send when the invoice says nothing.
VatRegime = Literal["TVA_SUR_DEBIT", "TVA_SUR_ENCAISSEMENT", "EXONERATION", "SANS_TVA"]
VAT_REGIMES: tuple[str, ...] = get_args(VatRegime)
DEFAULT_VAT_REGIME = "TVA_SUR_DEBIT"
EXEMPT_VAT_REGIMES = frozenset({"EXONERATION", "SANS_TVA"})
# Chorus's `modePaiement` (chorus-pro.md §5.4).
PAYMENT_MEANS = ("VIREMENT", "PRELEVEMENT", "CHEQUE", "ESPECE", "AUTRE", "REPORT")
DEFAULT_PAYMENT_MEANS = "VIREMENT"
# BT-130, UN/ECE recommendation 20 "one": what a line is counted in when it says nothing.
DEFAULT_UNIT_CODE = "C62"
# Chorus's numeroMarche (BT-12 in EN 16931).
CONTRACT_REFERENCE_MAX_LENGTH = 50

# Bounds on amounts. An input (quantity, unit price, total) has at most 12 digits before the
# point and 6 after; a line net or a total at most 999 999 999 999.99. 15 significant digits
# survive a round trip through the binary floats Chorus and most JSON readers use, and the
# product of two inputs (24 + 12 digits) quantizes to the cent within Decimal's 28 digits.
MAX_INTEGER_DIGITS = 12
MAX_DECIMAL_PLACES = 6
MAX_INPUT_AMOUNT = Decimal("999999999999.999999")
MAX_AMOUNT = Decimal("999999999999.99")


class InvoiceType(StrEnum):
    """Chorus's `typeFacture`: FACTURE or AVOIR."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


def to_cents(amount: Decimal) -> Decimal:
    """Round half up to the cent, as invoices are printed; a zero is never signed (`-0.00`
    breaks EN 16931 checks that compare it with 0 as text, BR-E-09)."""
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    return rounded.copy_abs() if rounded.is_zero() else rounded


def money_text(amount: Decimal) -> str:
    """A money amount as answers show it: at least two decimals (`300.30`, `12.345`)."""
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        amount = amount.quantize(CENT)
    return f"{amount:f}"


@dataclass(frozen=True, slots=True)
class Payment:
    """How the buyer pays: Chorus's `modePaiement`, and the account for a transfer."""

    means: str | None = None
    iban: str | None = None
    bic: str | None = None
    # As printed on the invoice (BT-20).
    terms: str | None = None


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address (EN 16931 BG-5 / BG-8); the country is ISO 3166-1 alpha-2."""

    line1: str | None = None
    line2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country_code: str | None = None


@dataclass(frozen=True, slots=True)
class Supplier:
    """The invoicing party; without an address, its registered structure's is used."""

    siret: str | None = None
    name: str | None = None
    vat_number: str | None = None
    address: Address | None = None


@dataclass(frozen=True, slots=True)
class Buyer:
    """The public buyer and the service (SE) that processes the invoice."""

    siret: str | None = None
    service_code: str | None = None
    name: str | None = None
    # Without one, Chorus's directory gives it (structured channels only).
    address: Address | None = None


@dataclass(frozen=True, slots=True)
class Line:
    """One invoice line; amounts exact, net rounded to the cent."""

    description: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    vat_rate: Decimal | None = None
    unit: str | None = None
    reference: str | None = None
    # UN/ECE recommendation 20; None means DEFAULT_UNIT_CODE.
    unit_code: str | None = None

    @property
    def net_amount(self) -> Decimal | None:
        """Quantity times unit price, to the cent; None while either is missing."""
        if self.quantity is None or self.unit_price is None:
            return None
        return to_cents(self.quantity * self.unit_price)


@dataclass(frozen=True, slots=True)
class Totals:
    """Net, VAT and gross amounts of the whole invoice."""

    net: Decimal
    vat: Decimal
    gross: Decimal


@dataclass(frozen=True, slots=True)
class VatBreakdown:
    """Net base and VAT for one rate, the way Chorus's `ligneTva` carries it."""

    rate: Decimal
    base: Decimal
    vat: Decimal


@dataclass(frozen=True, slots=True)
class InvoiceDraft:
    """An invoice after normalization, before validation: anything may still be missing."""

    invoice_number: str | None = None
    type: InvoiceType = InvoiceType.INVOICE
    issue_date: date | None = None
    due_date: date | None = None
    currency: str | None = None
    supplier: Supplier = field(default_factory=Supplier)
    buyer: Buyer = field(default_factory=Buyer)
    legal_commitment: str | None = None
    framework: str | None = DEFAULT_FRAMEWORK
    lines: tuple[Line, ...] = ()
    totals: Totals | None = None
    preceding_invoice: str | None = None
    note: str | None = None
    # Already resolved against the supplier structure's default when the rules see it.
    vat_regime: str = DEFAULT_VAT_REGIME
    vat_exemption_reason: str | None = None
    payment: Payment | None = None
    validator_siret: str | None = None
    contract_reference: str | None = None


def vat_breakdown(lines: Iterable[Line]) -> list[VatBreakdown]:
    """VAT per rate on the summed line nets (EN 16931's way), rounded once per rate."""
    bases: dict[Decimal, Decimal] = defaultdict(Decimal)
    for line in lines:
        net = line.net_amount
        if net is None or line.vat_rate is None:
            continue
        # 20, 20.0 and 20.00 are one rate and must share one breakdown line (BG-23).
        bases[line.vat_rate.normalize()] += net
    return [
        VatBreakdown(rate=rate, base=base, vat=to_cents(base * rate / HUNDRED))
        for rate, base in sorted(bases.items())
    ]


def compute_totals(lines: Iterable[Line]) -> Totals:
    """The totals the lines add up to."""
    breakdown = vat_breakdown(lines)
    net = sum((item.base for item in breakdown), Decimal("0.00"))
    vat = sum((item.vat for item in breakdown), Decimal("0.00"))
    return Totals(net=to_cents(net), vat=to_cents(vat), gross=to_cents(net + vat))
