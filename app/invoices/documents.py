"""The parties' postal addresses an EN 16931 document is written with.

EN 16931 requires both parties' addresses (at least their country: BR-09, BR-11). The ERP may
give them in the invoice; otherwise the seller's comes from its registered supplier structure
and the buyer's from Chorus Pro's directory (the directory lookup is not wired yet: callers pass
what they have). Pure: the caller reads the structure and the directory.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.invoice import Address
from app.formats import model


@dataclass(frozen=True, slots=True)
class MissingAddress(Exception):
    """Neither the invoice nor its fallback gives this party's country."""

    field: str

    def __str__(self) -> str:
        return f"{self.field}: no postal address with a country for this party"


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
) -> PartyAddresses:
    """The invoice's own addresses first, else the structure's (seller) or directory's (buyer).

    The whole address is taken from one source, never mixed field by field: a street from the
    ERP with a city from the registry could describe a place that does not exist.
    """
    return PartyAddresses(
        seller=_document_address("supplier.address", invoice_seller or structure_seller),
        buyer=_document_address("buyer.address", invoice_buyer or directory_buyer),
    )


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
