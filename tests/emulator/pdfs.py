"""PDFs for the emulator's tests: plain, signed by hand, and signed for real with pyHanko.

The emulator only looks for a signature dictionary in the file's bytes, so a hand-written
`/Sig` dictionary is enough for most tests; one real signature (a throwaway self-signed
certificate) shows the detection holds on what a signing library writes.
"""

from __future__ import annotations

import io

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

from harness.samples import blank_pdf
from tests.formats.pdfs import pdf_signer

__all__ = ["blank_pdf", "hand_signed_pdf", "pyhanko_signed_pdf", "without_signature_value"]


def hand_signed_pdf() -> bytes:
    """A PDF carrying a signature dictionary (not a valid signature: nothing checks one)."""
    signature = (
        b"\n99 0 obj\n<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached "
        b"/ByteRange [0 120 250 64] /Contents <3082000a0000000000000000> >>\nendobj\n"
    )
    return blank_pdf() + signature


def without_signature_value(content: bytes) -> bytes:
    """The same bytes with `/Contents` gone: a signature dictionary that is not one."""
    return content.replace(b"/Contents", b"/Kontents")


async def pyhanko_signed_pdf(pdf: bytes | None = None) -> bytes:
    """`pdf` (a blank page by default) signed by pyHanko (PAdES) with a throwaway certificate."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf or blank_pdf()))
    output = await signers.async_sign_pdf(
        writer,
        signers.PdfSignatureMetadata(
            field_name="Signature1", subfilter=fields.SigSeedSubFilter.PADES
        ),
        signer=pdf_signer("ACME FOURNITURES SAS (test)"),
    )
    return output.getvalue()
