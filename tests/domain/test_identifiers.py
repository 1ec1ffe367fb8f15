"""SIRET, SE, EJ and invoice-number rules on plain strings."""

from __future__ import annotations

import pytest

from app.domain.identifiers import (
    is_valid_french_vat_number,
    is_valid_invoice_number,
    is_valid_service_code,
    is_valid_siret,
    normalize_code,
    normalize_siret,
)


@pytest.mark.parametrize(
    ("siret", "valid"),
    [
        ("11000201100044", True),  # the State
        ("12345678200051", True),  # a qualification recipient
        ("41234567010000", True),
        ("11000201100045", False),  # checksum off by one
        ("1100020110004", False),  # 13 digits
        ("110002011000440", False),  # 15 digits
        ("1100020110004A", False),
        ("", False),
        ("35600000000048", True),  # La Poste head office: passes Luhn
        ("35600000049837", True),  # La Poste establishment: digits sum to a multiple of 5
        ("35600000049838", False),  # ... and one whose digits do not
    ],
)
def test_siret_checksum_follows_insee_rules_including_la_poste(siret: str, valid: bool) -> None:
    assert is_valid_siret(siret) is valid


@pytest.mark.parametrize(
    ("written", "normalized"),
    [
        ("110 002 011 000 44", "11000201100044"),
        ("110.002.011.00044", "11000201100044"),
        ("110-002-011-00044", "11000201100044"),
        ("110\u00a0002\u00a0011\u00a000044", "11000201100044"),
    ],
)
def test_sirets_lose_their_separators(written: str, normalized: str) -> None:
    assert normalize_siret(written) == normalized


def test_codes_are_trimmed_and_upper_cased() -> None:
    assert normalize_code("  sfacetat ") == "SFACETAT"


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("SFACETAT", True),
        ("SERVICE_DEST_EJ_OU_SERV_OBL", True),
        ("A" * 100, True),
        ("A" * 101, False),
        ("SERVICE-1", False),
        ("SERVICE 1", False),
        ("", False),
    ],
)
def test_service_codes_are_up_to_100_of_a_z_digits_underscore(code: str, valid: bool) -> None:
    assert is_valid_service_code(code) is valid


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("F2026-000123", True),
        ("2026/11/0001", True),
        ("A" * 20, True),
        ("A" * 21, False),
        ("-F1", False),
        ("F 1", False),
        ("F#1", False),
        ("FACTURE\u00e9", False),
    ],
)
def test_invoice_numbers_fit_chorus(number: str, valid: bool) -> None:
    assert is_valid_invoice_number(number) is valid


@pytest.mark.parametrize(
    ("vat_number", "valid"),
    [("FR96412345670", True), ("FR00412345670", False), ("DE123456789", False)],
)
def test_french_vat_numbers_have_a_matching_key(vat_number: str, valid: bool) -> None:
    assert is_valid_french_vat_number(vat_number) is valid
