"""Which postal addresses an EN 16931 document is written with."""

from __future__ import annotations

import pytest

from app.domain.invoice import Address
from app.formats import model
from app.invoices.documents import (
    MissingAddress,
    MissingName,
    addresses_for,
    buyer_name_for,
    country_codes,
    resolve_addresses,
)

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


def test_a_stored_invoices_siret_buyer_without_any_address_is_in_france() -> None:
    resolved = addresses_for(None, REGISTERED, None, None)
    assert resolved.seller.city == "Paris"
    assert resolved.buyer == model.Address("FR")


def test_a_directory_address_without_a_country_keeps_its_lines_in_france() -> None:
    directory = Address("20 avenue de Ségur", None, "75007", "Paris", None)
    resolved = addresses_for(None, REGISTERED, None, directory)
    assert resolved.buyer == model.Address("FR", "20 avenue de Ségur", None, "75007", "Paris")


def test_for_a_stored_invoice_the_invoice_and_directory_still_come_first() -> None:
    resolved = addresses_for(ERP_SELLER, REGISTERED, ERP_BUYER, DIRECTORY)
    assert resolved.seller.city == "Lyon"
    assert resolved.buyer.line1 == "139 rue de Bercy"
    foreign = Address("Rue de la Loi 16", None, "1000", "Bruxelles", "BE")
    assert addresses_for(None, REGISTERED, None, foreign).buyer.country_code == "BE"


def test_a_stored_invoice_whose_structure_lost_its_address_names_the_seller() -> None:
    with pytest.raises(MissingAddress) as raised:
        addresses_for(None, None, ERP_BUYER, None)
    assert raised.value.field == "supplier.address"


def test_the_buyer_name_is_the_invoices_else_the_directorys() -> None:
    assert buyer_name_for("Etat", "ETAT FRANCAIS") == "Etat"
    assert buyer_name_for(None, "ETAT FRANCAIS") == "ETAT FRANCAIS"
    with pytest.raises(MissingName, match=r"buyer\.name"):
        buyer_name_for(None, None)


def test_the_country_list_is_the_one_the_schematron_checks() -> None:
    codes = country_codes()
    assert {"FR", "DE", "XI", "1A"} <= codes
    assert "ZZ" not in codes
    assert "FRANCE" not in codes
    assert len(codes) > 240
