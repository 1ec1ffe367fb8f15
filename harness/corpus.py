"""The golden corpus: canonical invoices (as the rules accept them) and what a document needs more.

Every scenario is an `InvoiceDraft` plus the data the canonical JSON does not carry (postal
addresses, a foreign seller's identifier). `Scenario.document()` resolves it with
`to_en16931`; the CII and UBL writers are both tested on every scenario, and `bench.formats`
times them on it. Keep names stable: tests and benchmarks select scenarios by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from app.domain.identifiers import STATE_SIRET
from app.domain.invoice import (
    Buyer,
    InvoiceDraft,
    InvoiceType,
    Line,
    Payment,
    Supplier,
    compute_totals,
)
from app.formats.model import AdditionalDocument, Address, EN16931Invoice
from harness.samples import SUPPLIER_SIRET, SUPPLIER_VAT_NUMBER, blank_pdf

IBAN = "FR7630006000011234567890189"
BIC = "AGRIFRPPXXX"

SELLER_ADDRESS = Address(
    country_code="FR",
    line1="12 rue des Fournisseurs",
    postal_code="69002",
    city="Lyon",
)
BUYER_ADDRESS = Address(
    country_code="FR",
    line1="139 rue de Bercy",
    postal_code="75012",
    city="Paris",
)
FOREIGN_SELLER_ADDRESS = Address(
    country_code="DE",
    line1="Musterstrasse 5",
    line2="Hinterhaus",
    postal_code="10115",
    city="Berlin",
)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One corpus case: a canonical invoice and the extra data a structured document needs."""

    name: str
    draft: InvoiceDraft
    seller_address: Address = SELLER_ADDRESS
    buyer_address: Address = BUYER_ADDRESS
    # A seller without SIRET: its Chorus identifier and identifier type (BT-29).
    seller_identifier: str | None = None
    seller_identifier_type: str | None = None
    preceding_invoice_date: date | None = None
    payment_terms: str | None = None
    # BG-24: supporting documents embedded in the CII or UBL.
    additional_documents: tuple[AdditionalDocument, ...] = ()
    tags: frozenset[str] = field(default_factory=frozenset)

    def document(self) -> EN16931Invoice:
        """The scenario resolved to the EN 16931 model the writers take."""
        from app.formats.from_canonical import to_en16931

        return to_en16931(
            self.draft,
            seller_address=self.seller_address,
            buyer_address=self.buyer_address,
            seller_identifier=self.seller_identifier,
            seller_identifier_type=self.seller_identifier_type,
            preceding_invoice_date=self.preceding_invoice_date,
            payment_terms=self.payment_terms,
            additional_documents=self.additional_documents,
        )


def _draft(number: str, lines: tuple[Line, ...], **overrides: object) -> InvoiceDraft:
    """A valid State invoice with `lines` and totals computed the domain's way."""
    draft = InvoiceDraft(
        invoice_number=number,
        type=InvoiceType.INVOICE,
        issue_date=date(2026, 11, 20),
        due_date=date(2026, 12, 20),
        currency="EUR",
        supplier=Supplier(
            siret=SUPPLIER_SIRET, name="ACME FOURNITURES SAS", vat_number=SUPPLIER_VAT_NUMBER
        ),
        buyer=Buyer(siret=STATE_SIRET, service_code="SFACETAT", name="Etat"),
        legal_commitment="1234567890",
        framework="A1_FACTURE_FOURNISSEUR",
        lines=lines,
        totals=compute_totals(lines),
    )
    return replace(draft, **overrides)  # type: ignore[arg-type]


def _line(description: str, quantity: str, price: str, rate: str, unit: str | None = None) -> Line:
    return Line(
        description=description,
        quantity=Decimal(quantity),
        unit_price=Decimal(price),
        vat_rate=Decimal(rate),
        unit=unit,
    )


_LONG = (
    "Prestation de maintenance preventive et corrective des equipements de reprographie du "
    "site, comprenant le remplacement des pieces d'usure, les deplacements du technicien, "
    "la main d'oeuvre et la mise a jour des micrologiciels selon le cahier des clauses "
    "techniques particulieres du marche; intervention sous quatre heures ouvrees, rapport "
    "d'intervention signe par le service, reprise des consommables usages et recyclage selon "
    "la filiere agreee; periode du premier au trente novembre deux mille vingt-six inclus, "
    "conformement au bon de commande et a l'avenant numero deux du marche subsequent."
)
LONG_DESCRIPTION = (_LONG + " " + _LONG)[:500]

_MANY_LINES = tuple(
    _line(
        f"Article {i:03d} - fourniture de bureau",
        str(1 + i % 7),
        f"{(i * 37) % 1000 + 0.99:.2f}",
        "20" if i % 3 else "10",
        "C62" if i % 2 else "pièce",
    )
    for i in range(1, 201)
)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "single_rate",
        _draft("F2026-000101", (_line("Ramettes de papier", "2", "100.00", "20"),)),
    ),
    Scenario(
        "multi_rate",
        _draft(
            "F2026-000102",
            (
                _line("Ramettes de papier", "3", "4.99", "20", "C62"),
                _line("Restauration collective", "12.5", "13.333", "10", "HUR"),
                _line("Livres scolaires", "7", "18.45", "5.5", "pièce"),
                _line("Cartouches d'encre", "4", "39.90", "20", "H87"),
                _line("Denrees alimentaires", "2.375", "6.12", "5.5", "KGM"),
            ),
        ),
        tags=frozenset({"multi_rate"}),
    ),
    Scenario(
        "credit_note",
        _draft(
            "AV2026-000103",
            (_line("Avoir sur ramettes de papier retournees", "1", "100.00", "20"),),
            type=InvoiceType.CREDIT_NOTE,
            preceding_invoice="F2026-000101",
            note="Avoir sur la facture F2026-000101: marchandise retournee.",
        ),
        preceding_invoice_date=date(2026, 11, 20),
        tags=frozenset({"credit_note"}),
    ),
    Scenario(
        "exempt_line",
        _draft(
            "F2026-000104",
            (
                _line("Formation professionnelle continue", "2", "750.00", "0", "DAY"),
                _line("Support de cours imprime", "10", "12.00", "20"),
            ),
            vat_exemption_reason="Exoneration de TVA, article 261-4-4 a du CGI",
        ),
        tags=frozenset({"exempt"}),
    ),
    Scenario(
        "exonerated_invoice",
        _draft(
            "F2026-000105",
            (_line("Formation professionnelle continue", "3", "800.00", "0", "DAY"),),
            vat_regime="EXONERATION",
            vat_exemption_reason="Exoneration de TVA, article 261-4-4 a du CGI",
        ),
        tags=frozenset({"exempt"}),
    ),
    Scenario(
        "not_subject",
        _draft(
            "F2026-000111",
            (_line("Cotisation annuelle d'adhesion", "1", "350.00", "0"),),
            vat_regime="SANS_TVA",
            vat_exemption_reason="TVA non applicable, art. 293 B du CGI",
        ),
        tags=frozenset({"exempt"}),
    ),
    Scenario(
        "iban_transfer",
        _draft(
            "F2026-000106",
            (_line("Licence logicielle annuelle", "1", "1200.00", "20"),),
            payment=Payment(means="VIREMENT", iban=IBAN, bic=BIC),
        ),
        payment_terms="Paiement a 30 jours par virement.",
        tags=frozenset({"iban"}),
    ),
    Scenario(
        "long_descriptions",
        _draft(
            "F2026-000107",
            (
                _line(LONG_DESCRIPTION, "1", "4321.09", "20"),
                _line(LONG_DESCRIPTION[::-1], "2.5", "100.10", "10"),
            ),
            note=LONG_DESCRIPTION,
        ),
    ),
    Scenario(
        "foreign_supplier",
        _draft(
            "DE-2026-0108",
            (_line("Beratungsleistung", "8", "150.00", "20", "HUR"),),
            supplier=Supplier(siret=None, name="Muster Beratung GmbH", vat_number="DE123456789"),
            payment=Payment(means="VIREMENT", iban="DE89370400440532013000", bic="COBADEFFXXX"),
        ),
        seller_address=FOREIGN_SELLER_ADDRESS,
        # Chorus identifier type UE_HORS_FRANCE: the EU VAT number identifies the supplier.
        seller_identifier="DE123456789",
        seller_identifier_type="UE_HORS_FRANCE",
        tags=frozenset({"foreign"}),
    ),
    Scenario(
        "many_lines",
        _draft("F2026-000109", _MANY_LINES),
        tags=frozenset({"many_lines"}),
    ),
    Scenario(
        "cheque_with_contract",
        _draft(
            "F2026-000110",
            (_line("Entretien des espaces verts", "1", "980.40", "20"),),
            payment=Payment(means="CHEQUE"),
            framework="A2_FACTURE_FOURNISSEUR_DEJA_PAYEE",
            contract_reference="MARCHE-2026-017",
        ),
    ),
)

DELIVERY_NOTE = AdditionalDocument(
    reference="BL-2026-0457",
    description="Bon de livraison signe",
    filename="bon-de-livraison.pdf",
    mime_code="application/pdf",
    content=blank_pdf(),
)
TIMESHEET = AdditionalDocument(
    reference="RELEVE-2026-11",
    description=None,
    filename="releve d'heures novembre.csv",
    mime_code="text/csv",
    content=b"date;heures\n2026-11-02;7,5\n2026-11-03;8\n",
)

SCENARIOS += (
    Scenario(
        "one_attachment",
        _draft("F2026-000112", (_line("Livraison de mobilier", "1", "2450.00", "20"),)),
        additional_documents=(DELIVERY_NOTE,),
        tags=frozenset({"attachments"}),
    ),
    Scenario(
        "two_attachments",
        _draft(
            "AV2026-000113",
            (_line("Avoir sur heures de maintenance", "3", "65.00", "20", "HUR"),),
            type=InvoiceType.CREDIT_NOTE,
            preceding_invoice="F2026-000112",
        ),
        preceding_invoice_date=date(2026, 11, 20),
        additional_documents=(DELIVERY_NOTE, TIMESHEET),
        tags=frozenset({"attachments", "credit_note"}),
    ),
)

BY_NAME: dict[str, Scenario] = {scenario.name: scenario for scenario in SCENARIOS}


def scenario(name: str) -> Scenario:
    """The corpus scenario called `name`."""
    return BY_NAME[name]
