"""Documents for the reading tests: canonical payloads (tests/builders.py) written by the
gateway's own writers, and hostile inputs."""

from __future__ import annotations

import io
import zlib
from datetime import date
from typing import Any

from pypdf import PdfReader, PdfWriter
from pypdf.generic import DictionaryObject, EncodedStreamObject, NameObject, NumberObject

from app.formats.cii import write_cii
from app.formats.facturx import write_facturx
from app.formats.from_canonical import to_en16931
from app.formats.model import Address, EN16931Invoice
from app.formats.ubl import write_ubl
from app.invoices.parsing import parse_invoice, to_draft
from app.invoices.schemas import AddressIn
from tests.builders import SUPPLIER_SIRET, SUPPLIER_VAT_NUMBER, invoice_payload
from tests.formats.pdfs import blank_pdf

SELLER_ADDRESS = {
    "line1": "12 rue des Fournisseurs",
    "postal_code": "69002",
    "city": "Lyon",
    "country_code": "FR",
}
BUYER_ADDRESS = {
    "line1": "139 rue de Bercy",
    "line2": "Batiment Colbert",
    "postal_code": "75012",
    "city": "Paris",
    "country_code": "FR",
}
IBAN = "FR7630006000011234567890189"
BIC = "AGRIFRPPXXX"


def full_payload(**overrides: Any) -> dict[str, Any]:
    """An invoice using every canonical field a structured document carries."""
    payload = invoice_payload(
        supplier={
            "siret": SUPPLIER_SIRET,
            "name": "ACME FOURNITURES SAS",
            "vat_number": SUPPLIER_VAT_NUMBER,
            "address": SELLER_ADDRESS,
        },
        buyer={
            "siret": "11000201100044",
            "service_code": "SFACETAT",
            "name": "Etat",
            "address": BUYER_ADDRESS,
        },
        lines=[
            {
                "description": "Ramettes de papier",
                "quantity": "2",
                "unit_price": "100.00",
                "vat_rate": "20",
                "unit_code": "C62",
                "reference": "RAM-80",
            },
            {
                "description": "Livraison",
                "quantity": "1.5",
                "unit_price": "10.00",
                "vat_rate": "5.5",
                "unit_code": "HUR",
            },
        ],
        totals={"net": "215.00", "vat": "40.83", "gross": "255.83"},
        payment={"means": "VIREMENT", "iban": IBAN, "bic": BIC, "terms": "30 jours fin de mois"},
        contract_reference="MARCHE-2026-42",
        note="Commande du 2 novembre",
    )
    payload.update(overrides)
    return payload


def credit_note_payload(**overrides: Any) -> dict[str, Any]:
    """A credit note for a previous invoice (no payment means: Chorus refuses them on one)."""
    payload = full_payload(
        type="credit_note", preceding_invoice="F2026-000001", payment=None, due_date=None
    )
    payload.update(overrides)
    return payload


def exempt_payload(**overrides: Any) -> dict[str, Any]:
    """An invoice exempt from VAT (category E with its reason)."""
    payload = full_payload(
        lines=[
            {
                "description": "Formation",
                "quantity": "3",
                "unit_price": "400.00",
                "vat_rate": "0",
                "unit_code": "DAY",
            }
        ],
        totals={"net": "1200.00", "vat": "0.00", "gross": "1200.00"},
        vat_regime="EXONERATION",
        vat_exemption_reason="Exoneration de TVA, article 261-4-4 a du CGI",
    )
    payload.update(overrides)
    return payload


def en16931(payload: dict[str, Any]) -> EN16931Invoice:
    """What the gateway's writers take, for this canonical payload (validated elsewhere)."""
    parsed = parse_invoice(payload)
    assert parsed.invoice is not None, parsed.violations
    invoice = parsed.invoice
    draft = to_draft(invoice)
    assert invoice.supplier is not None
    assert invoice.buyer is not None
    return to_en16931(
        draft,
        seller_address=_address(invoice.supplier.address),
        buyer_address=_address(invoice.buyer.address),
        payment_terms=invoice.payment.terms if invoice.payment else None,
        preceding_invoice_date=date(2026, 10, 1) if invoice.preceding_invoice else None,
    )


def _address(address: AddressIn | None) -> Address:
    assert address is not None
    assert address.country_code is not None
    return Address(
        country_code=address.country_code,
        line1=address.line1,
        line2=address.line2,
        postal_code=address.postal_code,
        city=address.city,
    )


def cii(payload: dict[str, Any]) -> bytes:
    """The payload as the gateway's CII."""
    return write_cii(en16931(payload))


def ubl(payload: dict[str, Any]) -> bytes:
    """The payload as the gateway's UBL Invoice or CreditNote."""
    return write_ubl(en16931(payload))


def facturx(payload: dict[str, Any]) -> bytes:
    """The payload as the gateway's Factur-X (EN 16931) in a blank PDF."""
    return write_facturx(blank_pdf(), cii(payload))


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100">
<rsm:ExchangedDocument>&lol9;</rsm:ExchangedDocument>
</rsm:CrossIndustryInvoice>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Invoice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
<cbc:ID>&xxe;</cbc:ID>
</Invoice>
"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Invoice SYSTEM "http://127.0.0.1:9/invoice.dtd">
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>
"""


def pdf_with_invoice_xml(
    content: bytes, *, compressed: bytes | None = None, declared_size: int | None = None
) -> bytes:
    """A blank PDF whose `factur-x.xml` holds `content`, or the raw Flate data `compressed`
    (a bomb: far more once inflated), optionally declaring a size in its /Params."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(blank_pdf())))
    entry = writer.add_attachment("factur-x.xml", content)
    if compressed is not None or declared_size is not None:
        files: Any = entry.pdf_object["/EF"]
        stream = EncodedStreamObject()
        original = files["/F"].get_object()
        stream._data = compressed if compressed is not None else original.get_data()
        if compressed is not None:
            stream[NameObject("/Filter")] = NameObject("/FlateDecode")
        if declared_size is not None:
            stream[NameObject("/Params")] = DictionaryObject(
                {NameObject("/Size"): NumberObject(declared_size)}
            )
        stream[NameObject("/Type")] = NameObject("/EmbeddedFile")
        reference = writer._add_object(stream)
        files[NameObject("/F")] = reference
        if "/UF" in files:
            files[NameObject("/UF")] = reference
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def deflated_zeros(megabytes: int) -> bytes:
    """`megabytes` MB of spaces after an XML start, deflated to a few kilobytes."""
    compressor = zlib.compressobj(9)
    chunks = [compressor.compress(b"<a>")]
    block = b" " * (1024 * 1024)
    chunks += [compressor.compress(block) for _ in range(megabytes)]
    chunks.append(compressor.flush())
    return b"".join(chunks)
