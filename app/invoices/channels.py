"""Which way an invoice goes to Chorus Pro: a flux with a structured document, or `soumettre`.

Pure. The configured format (`CHORUS_DELIVERY_FORMAT`, or a structure's own override) says
what the operator prefers; whether the ERP sent a PDF decides what can honour it. A PDF is the
invoice's visual legal copy and is never dropped: with a structured preference it becomes a
Factur-X (the CII inside the ERP's PDF); with no PDF there is nothing to deposit as one, so
`facturx` falls back to CII and `pdf` to `saisie`. A PDF invoice sent without lines (Chorus
takes those with DEPOT_PDF_API) cannot be an EN 16931 document, which needs at least one line
(BR-16), so it goes as `pdf`.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """How an invoice reaches Chorus Pro."""

    CII = "cii"  # deposer/flux, IN_DP_E1_CII_16B
    UBL = "ubl"  # deposer/flux, IN_DP_E1_UBL_INVOICE
    FACTURX = "facturx"  # deposer/flux, IN_DP_E2_CII_FACTURX (the ERP's PDF with the CII inside)
    PDF = "pdf"  # soumettre, DEPOT_PDF_API with the ERP's PDF
    SAISIE = "saisie"  # soumettre, SAISIE_API (Chorus numbers the invoice itself)


DEFAULT_CHANNEL = Channel.CII

_WITH_PDF = {
    Channel.CII: Channel.FACTURX,
    Channel.UBL: Channel.FACTURX,
    Channel.FACTURX: Channel.FACTURX,
    Channel.PDF: Channel.PDF,
    Channel.SAISIE: Channel.PDF,
}
_WITHOUT_PDF = {
    Channel.CII: Channel.CII,
    Channel.UBL: Channel.UBL,
    Channel.FACTURX: Channel.CII,
    Channel.PDF: Channel.SAISIE,
    Channel.SAISIE: Channel.SAISIE,
}

# What Chorus calls each channel: the flux's `syntaxeFlux`, or `soumettre`'s `modeDepot`.
CHORUS_NAMES = {
    Channel.CII: "IN_DP_E1_CII_16B",
    Channel.UBL: "IN_DP_E1_UBL_INVOICE",
    Channel.FACTURX: "IN_DP_E2_CII_FACTURX",
    Channel.PDF: "DEPOT_PDF_API",
    Channel.SAISIE: "SAISIE_API",
}
FLUX_CHANNELS = frozenset({Channel.CII, Channel.UBL, Channel.FACTURX})


def resolve_channel(
    configured: Channel,
    *,
    structure_override: Channel | None,
    has_pdf: bool,
    has_lines: bool = True,
    signed: bool = False,
    signed_facturx: bool = False,
) -> Channel:
    """The channel an invoice takes, given the preferences and what came with it.

    A signed PDF cannot have a CII embedded into it (that would break the signature): it goes
    as `pdf` (DEPOT_PDF_SIGNE_API), unless it already is a Factur-X (`signed_facturx`), which
    the Factur-X channel then deposits as is.
    """
    preferred = structure_override or configured
    if has_pdf and not has_lines:
        return Channel.PDF
    channel = (_WITH_PDF if has_pdf else _WITHOUT_PDF)[preferred]
    if signed and channel is Channel.FACTURX and not signed_facturx:
        return Channel.PDF
    return channel


def needs_structured_document(channel: Channel) -> bool:
    """Whether the invoice is written as an EN 16931 document (addresses, VAT ids required)."""
    return channel in FLUX_CHANNELS


def stored_channel(value: str | None, *, has_pdf: bool) -> Channel:
    """A stored invoice's channel; one stored before channels existed went by `soumettre`
    (SAISIE_API, or DEPOT_PDF_API with its PDF) and was validated for that."""
    if value is None:
        return Channel.PDF if has_pdf else Channel.SAISIE
    return Channel(value)
