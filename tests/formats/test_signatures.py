"""Signed PDFs: what `inspect_signatures` finds on PDFs signed here with a throwaway key."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from app.formats.facturx import PdfUnusable
from app.formats.signatures import PdfSignature, inspect_signatures, is_signed
from tests.formats.pdfs import (
    SIGNER_NAME,
    blank_pdf,
    signed_pdf,
    signing_identity,
    tampered,
    with_update,
)


def only(signatures: list[PdfSignature]) -> PdfSignature:
    assert len(signatures) == 1
    return signatures[0]


def test_an_unsigned_pdf_has_no_signature() -> None:
    pdf = blank_pdf()

    assert not is_signed(pdf)
    assert inspect_signatures(pdf) == []


def test_an_intact_signature_names_its_signer_and_time() -> None:
    pdf = signed_pdf()

    signature = only(inspect_signatures(pdf))

    assert is_signed(pdf)
    assert signature.intact
    assert signature.problem is None
    assert signature.signer == SIGNER_NAME
    assert signature.signed_at is not None
    assert abs(signature.signed_at - datetime.now(UTC)) < timedelta(minutes=5)
    assert signature.covers_whole_file


def test_a_self_signed_certificate_is_not_trusted_by_the_system() -> None:
    assert only(inspect_signatures(signed_pdf())).trusted is False


def test_a_certificate_among_the_given_roots_is_trusted() -> None:
    certificate, _ = signing_identity()

    signature = only(inspect_signatures(signed_pdf(), trust_roots=[certificate]))

    assert signature.trusted is True


def test_a_trust_root_that_is_no_certificate_is_refused() -> None:
    with pytest.raises(ValueError, match="trust root"):
        inspect_signatures(signed_pdf(), trust_roots=[b"not a certificate"])


def test_one_byte_changed_in_the_signed_range_breaks_the_signature() -> None:
    pdf = signed_pdf()
    changed = tampered(pdf)
    assert changed != pdf
    assert len(changed) == len(pdf)

    signature = only(inspect_signatures(changed))

    assert not signature.intact
    assert signature.problem is not None
    assert "digest" in signature.problem
    assert signature.trusted is None
    assert signature.signer == SIGNER_NAME


def test_a_signature_value_that_is_no_cms_reads_as_broken() -> None:
    pdf = signed_pdf()
    # The /Contents hex string lies outside the signed ranges: the digest still matches.
    match = re.search(rb"/Contents\s*<", pdf)
    assert match is not None
    start = match.end()
    broken = pdf[:start] + b"0" * 40 + pdf[start + 40 :]

    signature = only(inspect_signatures(broken))

    assert not signature.intact
    assert signature.problem is not None
    assert "cannot be evaluated" in signature.problem


def test_an_incremental_update_after_the_signature_is_reported() -> None:
    signature = only(inspect_signatures(with_update(signed_pdf())))

    assert signature.intact
    assert not signature.covers_whole_file


def test_bytes_appended_after_the_signature_are_reported() -> None:
    signature = only(inspect_signatures(signed_pdf() + b"\n% appended\n"))

    assert signature.intact
    assert not signature.covers_whole_file


def test_every_signature_is_reported_in_file_order() -> None:
    twice = signed_pdf(signed_pdf(), signer="Second Signer")

    first, second = inspect_signatures(twice)

    assert (first.signer, second.signer) == (SIGNER_NAME, "Second Signer")
    assert first.intact
    assert second.intact
    assert not first.covers_whole_file
    assert second.covers_whole_file


def test_an_unreadable_pdf_that_looks_signed_is_unusable() -> None:
    garbage = b"%PDF-1.7\n/ByteRange [0 10 20 30] /Contents <00>\n%%EOF"

    assert is_signed(garbage)
    with pytest.raises(PdfUnusable):
        inspect_signatures(garbage)


def test_bytes_without_a_signature_marker_are_not_parsed() -> None:
    assert inspect_signatures(b"not a PDF at all") == []


async def test_it_works_when_called_on_a_running_event_loop() -> None:
    assert only(inspect_signatures(signed_pdf())).intact


def test_the_pdf_is_left_as_it_was() -> None:
    pdf = signed_pdf()
    copy = bytes(pdf)

    inspect_signatures(pdf)

    assert pdf == copy


def test_a_signature_of_an_unsupported_kind_reads_as_broken_not_absent() -> None:
    pdf = signed_pdf()
    # Same length, so every offset in the file stays right.
    legacy = pdf.replace(b"/SubFilter /adbe.pkcs7.detached", b"/SubFilter /adbe.x509.rsa_sha1 ")
    assert legacy != pdf

    signature = only(inspect_signatures(legacy))

    assert not signature.intact
    assert signature.problem is not None
