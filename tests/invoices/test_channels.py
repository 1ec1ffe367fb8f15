"""Which channel an invoice takes: the preference, honoured as far as what came with it allows."""

from __future__ import annotations

import pytest

from app.invoices.channels import (
    CHORUS_NAMES,
    Channel,
    needs_structured_document,
    resolve_channel,
    stored_channel,
)


@pytest.mark.parametrize(
    ("configured", "has_pdf", "expected"),
    [
        (Channel.CII, False, Channel.CII),
        (Channel.UBL, False, Channel.UBL),
        (Channel.FACTURX, False, Channel.CII),  # no PDF to embed the CII in
        (Channel.PDF, False, Channel.SAISIE),  # no PDF to deposit
        (Channel.SAISIE, False, Channel.SAISIE),
        (Channel.CII, True, Channel.FACTURX),  # the ERP's PDF is never dropped
        (Channel.UBL, True, Channel.FACTURX),
        (Channel.FACTURX, True, Channel.FACTURX),
        (Channel.PDF, True, Channel.PDF),
        (Channel.SAISIE, True, Channel.PDF),
    ],
)
def test_the_configured_format_is_honoured_as_far_as_the_invoice_allows(
    configured: Channel, has_pdf: bool, expected: Channel
) -> None:
    assert resolve_channel(configured, structure_override=None, has_pdf=has_pdf) is expected


def test_a_structure_override_wins_over_the_setting() -> None:
    chosen = resolve_channel(Channel.CII, structure_override=Channel.UBL, has_pdf=False)
    assert chosen is Channel.UBL


def test_a_pdf_invoice_without_lines_goes_as_a_pdf_since_en16931_needs_lines() -> None:
    chosen = resolve_channel(Channel.CII, structure_override=None, has_pdf=True, has_lines=False)
    assert chosen is Channel.PDF


def test_invoices_stored_before_channels_keep_the_soumettre_mode_they_were_checked_for() -> None:
    assert stored_channel(None, has_pdf=False) is Channel.SAISIE
    assert stored_channel(None, has_pdf=True) is Channel.PDF
    assert stored_channel("ubl", has_pdf=False) is Channel.UBL


def test_only_flux_channels_need_a_structured_document() -> None:
    assert {c for c in Channel if needs_structured_document(c)} == {
        Channel.CII,
        Channel.UBL,
        Channel.FACTURX,
    }
    assert CHORUS_NAMES[Channel.FACTURX] == "IN_DP_E2_CII_FACTURX"


@pytest.mark.parametrize("configured", [Channel.CII, Channel.UBL, Channel.FACTURX])
def test_a_signed_pdf_is_never_embedded_into_so_it_goes_as_a_pdf(configured: Channel) -> None:
    chosen = resolve_channel(configured, structure_override=None, has_pdf=True, signed=True)
    assert chosen is Channel.PDF


def test_a_signed_factur_x_keeps_the_factur_x_channel_and_is_deposited_as_is() -> None:
    chosen = resolve_channel(
        Channel.CII, structure_override=None, has_pdf=True, signed=True, signed_facturx=True
    )
    assert chosen is Channel.FACTURX
