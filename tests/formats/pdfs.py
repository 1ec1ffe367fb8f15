"""Small PDFs for the Factur-X tests, made with pypdf (no PDF/A: the gateway does not make one)."""

from __future__ import annotations

import io
from pathlib import Path

import facturx
from pypdf import PdfWriter


def blank_pdf(
    *, pages: int = 1, attachments: dict[str, bytes] | None = None, password: str | None = None
) -> bytes:
    """An A4 PDF of blank pages, with these attachments, encrypted when a password is given."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    for name, content in (attachments or {}).items():
        writer.add_attachment(name, content)
    if password is not None:
        writer.encrypt(user_password=password, owner_password="owner")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def facturx_by_the_library(xml: bytes, level: str, directory: Path) -> bytes:
    """A Factur-X whose XMP declares `level`, built by factur-x itself, bypassing the gateway's
    refusal of other profiles than EN 16931."""
    output = directory / f"{level}.pdf"
    facturx.generate_from_file(
        io.BytesIO(blank_pdf()),
        xml,
        flavor="factur-x",
        level=level,
        check_xsd=False,
        output_pdf_file=str(output),
    )
    return output.read_bytes()
