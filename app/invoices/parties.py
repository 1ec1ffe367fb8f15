"""Who is on an EN 16931 document: the parties' addresses and the buyer's name.

The invoice's own first; else the registered structure's address for the seller and Chorus's
directory for the buyer; else, for the buyer, France (`documents.addresses_for`). The worker
resolves them before a deposit, the API before rendering a document on demand.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from app.buyers.directory import BuyerDirectory, BuyerNotInChorus, BuyerProfile
from app.chorus.errors import ChorusError
from app.crypto import PasswordBox
from app.domain.invoice import Address
from app.invoices.documents import PartyAddresses, addresses_for
from app.invoices.mapping import buyer_address, supplier_address
from app.invoices.models import Invoice
from app.structures.models import SupplierStructure
from app.structures.service import structure_address, technical_account


@dataclass(frozen=True, slots=True)
class DirectoryAccess:
    """What completing a buyer from Chorus's directory uses."""

    buyers: BuyerDirectory
    password_box: PasswordBox
    # API_ONLINE_VALIDATION_TIMEOUT_SECONDS: how long a rendering waits for the directory.
    timeout_seconds: float


@dataclass(frozen=True, slots=True)
class Parties:
    """The parties' addresses and the buyer's name an EN 16931 document is written with."""

    addresses: PartyAddresses
    buyer_name: str | None
    # The directory was needed (no buyer address or name in the invoice) but did not answer:
    # a later attempt may complete what the fallback could not.
    directory_unavailable: bool = False


async def resolve_parties(
    directory: DirectoryAccess,
    structure: SupplierStructure | None,
    *,
    buyer_siret: str,
    invoice_seller: Address | None,
    invoice_buyer: Address | None,
    buyer_name: str | None,
) -> Parties:
    """The invoice's own addresses and buyer name, else the structure's (seller) and Chorus's
    directory's (buyer), else France for the SIRET buyer; raises `MissingAddress`."""
    directory_buyer: Address | None = None
    unavailable = False
    if structure is not None and (invoice_buyer is None or buyer_name is None):
        profile = await _directory_profile(directory, structure, buyer_siret)
        unavailable = profile is None
        if profile is not None:
            directory_buyer = profile.address
            buyer_name = buyer_name or profile.name
    addresses = addresses_for(
        invoice_seller,
        structure_address(structure) if structure is not None else None,
        invoice_buyer,
        directory_buyer,
    )
    return Parties(addresses, buyer_name, directory_unavailable=unavailable)


async def stored_invoice_parties(
    directory: DirectoryAccess, invoice: Invoice, structure: SupplierStructure | None
) -> Parties:
    """`resolve_parties` for a stored invoice; raises `MissingAddress`."""
    return await resolve_parties(
        directory,
        structure,
        buyer_siret=invoice.buyer_siret,
        invoice_seller=supplier_address(invoice),
        invoice_buyer=buyer_address(invoice),
        buyer_name=invoice.buyer_name,
    )


async def _directory_profile(
    directory: DirectoryAccess, structure: SupplierStructure, siret: str
) -> BuyerProfile | None:
    # The directory only completes the buyer: when Chorus is slow or down, answer without it
    # rather than keep the caller waiting.
    if directory.buyers.offline:
        return None
    account = technical_account(structure, directory.password_box)
    try:
        async with asyncio.timeout(directory.timeout_seconds):
            return await directory.buyers.profile(account, siret)
    except (BuyerNotInChorus, ChorusError, TimeoutError):
        # BuyerNotInChorus too: Chorus would refuse the invoice anyway, and says so itself.
        return None
