"""Which postal addresses an EN 16931 document is written with."""

from __future__ import annotations

import pytest

from app.domain.invoice import Address
from app.formats import model
from app.invoices.documents import MissingAddress, resolve_addresses

ERP_SELLER = Address("2 avenue de l'ERP", None, "69001", "Lyon", "FR")
REGISTERED = Address("1 rue du Registre", "Bât. B", "75002", "Paris", "FR")
ERP_BUYER = Address("139 rue de Bercy", None, "75012", "Paris", "FR")
DIRECTORY = Address("20 avenue de Ségur", None, "75007", "Paris", "FR")


def test_the_invoice_addresses_win_over_the_registered_and_directory_ones() -> None:
    resolved = resolve_addresses(
        invoice_seller=ERP_SELLER,
        structure_seller=REGISTERED,
        invoice_buyer=ERP_BUYER,
        directory_buyer=DIRECTORY,
    )
    assert resolved.seller == model.Address("FR", "2 avenue de l'ERP", None, "69001", "Lyon")
    assert resolved.buyer == model.Address("FR", "139 rue de Bercy", None, "75012", "Paris")


def test_without_invoice_addresses_the_structure_and_the_directory_give_them_whole() -> None:
    resolved = resolve_addresses(
        invoice_seller=None,
        structure_seller=REGISTERED,
        invoice_buyer=None,
        directory_buyer=DIRECTORY,
    )
    assert resolved.seller == model.Address("FR", "1 rue du Registre", "Bât. B", "75002", "Paris")
    assert resolved.buyer.line1 == "20 avenue de Ségur"


@pytest.mark.parametrize(
    ("seller", "buyer", "field"),
    [
        (None, ERP_BUYER, "supplier.address"),
        (REGISTERED, None, "buyer.address"),
        (Address(city="Paris"), ERP_BUYER, "supplier.address"),
    ],
)
def test_a_party_with_no_address_with_a_country_is_named(
    seller: Address | None, buyer: Address | None, field: str
) -> None:
    with pytest.raises(MissingAddress) as raised:
        resolve_addresses(invoice_seller=None, structure_seller=seller, invoice_buyer=buyer)
    assert raised.value.field == field
    assert field in str(raised.value)
