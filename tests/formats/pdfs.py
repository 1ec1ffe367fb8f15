"""Small PDFs for the tests: blank ones (`harness.samples`, made with pypdf, no PDF/A: the gateway
does not make one), and signed ones, signed by pyHanko with a throwaway self-signed certificate
made here."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import facturx
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from harness.samples import blank_pdf

SIGNER_NAME = "Throwaway Signer"

__all__ = [
    "SIGNER_NAME",
    "blank_pdf",
    "facturx_by_the_library",
    "pdf_signer",
    "signed_pdf",
    "signing_identity",
    "tampered",
    "with_update",
]


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


def signing_identity(common_name: str = SIGNER_NAME) -> tuple[bytes, bytes]:
    """A self-signed certificate (DER) and its PKCS#8 key (DER), made once per name."""
    return _identity(common_name)


@lru_cache(maxsize=4)
def _identity(common_name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
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
    key_der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.DER), key_der


def signed_pdf(pdf: bytes | None = None, *, signer: str = SIGNER_NAME) -> bytes:
    """`pdf` (a blank page by default) signed in an incremental update, PAdES-style.

    Usable from async tests too: pyHanko's signing runs its own event loop, on a thread here.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_sign, pdf or blank_pdf(), signer).result()


def pdf_signer(common_name: str = SIGNER_NAME) -> signers.SimpleSigner:
    """A pyHanko signer holding the throwaway identity made for `common_name`."""
    certificate_der, key_der = signing_identity(common_name)
    certificate = asn1_x509.Certificate.load(certificate_der)
    return signers.SimpleSigner(
        signing_cert=certificate,
        signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs([certificate]),
    )


def _sign(pdf: bytes, common_name: str) -> bytes:
    output = io.BytesIO()
    signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False),
        # A new field for every signature: pyHanko refuses to fill one twice.
        signers.PdfSignatureMetadata(field_name=f"Signature{pdf.count(b'/ByteRange') + 1}"),
        signer=pdf_signer(common_name),
        output=output,
    )
    return output.getvalue()


def tampered(pdf: bytes) -> bytes:
    """`pdf` with one byte changed inside the first signed range, harmless to a PDF reader:
    the binary comment after the header (or the header's minor version)."""
    position = pdf.index(b"\n%", 0, 64) + 2 if b"\n%" in pdf[:64] else 7
    return pdf[:position] + bytes([pdf[position] ^ 0x01]) + pdf[position + 1 :]


def with_update(pdf: bytes) -> bytes:
    """`pdf` with an incremental update appended after its signature (a new document title)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    writer.set_info(
        generic.DictionaryObject(
            {generic.NameObject("/Title"): generic.TextStringObject("Changed after signing")}
        )
    )
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()
