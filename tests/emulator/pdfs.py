"""PDFs for the emulator's tests: plain, signed by hand, and signed for real with pyHanko.

The emulator only looks for a signature dictionary in the file's bytes, so a hand-written
`/Sig` dictionary is enough for most tests; one real signature (a throwaway self-signed
certificate) shows the detection holds on what a signing library writes.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pypdf import PdfWriter


def blank_pdf() -> bytes:
    """A one-page PDF without any signature."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


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


def _throwaway_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ACME FOURNITURES SAS (test)")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    key_file = directory / "key.pem"
    cert_file = directory / "cert.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


async def pyhanko_signed_pdf(directory: Path, pdf: bytes | None = None) -> bytes:
    """`pdf` (a blank page by default) signed by pyHanko (PAdES) with a throwaway certificate."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    key_file, cert_file = _throwaway_certificate(directory)
    signer = signers.SimpleSigner.load(str(key_file), str(cert_file))
    assert signer is not None
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf or blank_pdf()))
    output = await signers.async_sign_pdf(
        writer,
        signers.PdfSignatureMetadata(
            field_name="Signature1", subfilter=fields.SigSeedSubFilter.PADES
        ),
        signer=signer,
    )
    return output.getvalue()
