"""The identifiers Chorus Pro routes invoices by: SIRET, EJ, SE and the invoice number."""

from __future__ import annotations

import re

from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.fr import siret as stdnum_siret
from stdnum.fr import tva as stdnum_tva

STATE_SIRET = "11000201100044"

# Reserved by Chorus for invoices between public bodies; a supplier invoice sent there is refused.
PUBLIC_TO_PUBLIC_SERVICE = "FACTURES_PUBLIQUES"

SERVICE_CODE_PATTERN = re.compile(r"^[A-Z0-9_]{1,100}$")
OTHER_BUYER_EJ_MAX_LENGTH = 50  # Chorus (and Odoo's connector) refuse longer commitment numbers.

INVOICE_NUMBER_MAX_LENGTH = 20
# Chorus's exact character set is not published; these are the ones every peer client sends.
INVOICE_NUMBER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]*$")

_SIRET_SEPARATORS = re.compile(r"[\s.\-\u00a0\u202f]")


def normalize_siret(value: str) -> str:
    """Drop the spaces, dots and dashes people write SIRETs with."""
    return _SIRET_SEPARATORS.sub("", value)


def normalize_code(value: str) -> str:
    """Trim and upper-case a code (SE, EJ, currency, framework)."""
    return value.strip().upper()


def is_valid_siret(value: str) -> bool:
    """14 digits with a valid checksum (Luhn, or La Poste's multiple-of-5 rule)."""
    try:
        stdnum_siret.validate(value)
    except StdnumValidationError:
        return False
    return len(value) == 14


def french_vat_number(siren: str) -> str:
    """The intra-EU VAT number France gives a company: FR, a two-digit key, its SIREN."""
    key = (12 + 3 * (int(siren) % 97)) % 97
    return f"FR{key:02d}{siren}"


def is_valid_french_vat_number(value: str) -> bool:
    """A French intra-community VAT number whose key matches its SIREN."""
    return bool(stdnum_tva.is_valid(value))


def is_valid_service_code(value: str) -> bool:
    """Up to 100 characters of A-Z, 0-9 and underscore."""
    return SERVICE_CODE_PATTERN.fullmatch(value) is not None


def is_valid_invoice_number(value: str) -> bool:
    """Non-empty, at most 20 characters Chorus accepts."""
    return (
        len(value) <= INVOICE_NUMBER_MAX_LENGTH
        and INVOICE_NUMBER_PATTERN.fullmatch(value) is not None
    )


def normalize_bank_code(value: str) -> str:
    """An IBAN or BIC without the spaces it is printed with, upper-cased."""
    return re.sub(r"\s", "", value).upper()


def is_valid_iban(value: str) -> bool:
    """An IBAN with a valid country format and check digits."""
    return bool(stdnum_iban.is_valid(value))


def is_valid_bic(value: str) -> bool:
    """A BIC (SWIFT code) of 8 or 11 characters."""
    return bool(stdnum_bic.is_valid(value))
