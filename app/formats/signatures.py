"""Signed PDFs: which signatures a PDF carries and whether what they sign is untouched.

Chorus Pro takes a PDF "signé ou non signé" (`DEPOT_PDF_SIGNE_API`, `avecSignature`); the gateway
never signs nor modifies one, it only reports. pyHanko does the reading and the cryptography:
each signature's byte ranges are digested and compared with the signed digest, the signature
value is checked with the signer's key, and the signer's chain is built against trust roots
(the system's by default) without any network fetch, so trust is reported, not required.

Choices:
- a PDF with no signature dictionary marker (`/ByteRange` next to `/Contents`) gives `[]`
  without being parsed: its readability is judged elsewhere (`facturx.ensure_embeddable`);
- a PDF that carries such a marker but cannot be read (or is encrypted) raises `PdfUnusable`;
- a signature pyHanko cannot evaluate (malformed CMS, unknown SubFilter) is reported with
  `intact=False` and the reason in `problem`: a broken signature is never taken for no signature.
"""

from __future__ import annotations

import asyncio
import io
import re
import ssl
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from asn1crypto import x509

from app.formats.facturx import PdfUnusable

# pyHanko is imported where a signed PDF is read, not here: it costs most of a second, and
# every `gateway` command imports this module (through the invoice service) without using it.
if TYPE_CHECKING:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
    from pyhanko.sign.validation.status import DocumentTimestampStatus, PdfSignatureStatus

# A signature value is a `/Sig` dictionary with both keys; PDF writers keep it out of object
# streams (its /ByteRange holds file offsets), so it is always visible in the raw bytes.
_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[")
_CONTENTS = re.compile(rb"/Contents\s*<")


@dataclass(frozen=True)
class PdfSignature:
    """One signature of a PDF, as found: never a verdict on whether to accept it."""

    # The signed bytes digest to what was signed and the signature value verifies.
    intact: bool
    # The signing certificate's common name.
    signer: str | None
    # A timestamp token's time when there is one, else the time the signer declared.
    signed_at: datetime | None
    # Whether the signer's chain reaches a trust root; None when not checked (not intact).
    trusted: bool | None
    # False when bytes were appended after the signed revision (an incremental update).
    covers_whole_file: bool
    # Why `intact` is False; None when it is True.
    problem: str | None


def is_signed(pdf: bytes) -> bool:
    """Whether the PDF carries a signature dictionary: a byte scan, no parsing, never raises."""
    return _BYTE_RANGE.search(pdf) is not None and _CONTENTS.search(pdf) is not None


def inspect_signatures(
    pdf: bytes, *, trust_roots: Sequence[bytes] | None = None
) -> list[PdfSignature]:
    """Every signature of `pdf`, in file order; `[]` for an unsigned PDF.

    `trust_roots` are DER certificates to judge `trusted` by; None uses the system's store.
    CPU-bound (and runs its own event loop): call it from a worker thread, not the event loop.
    """
    if not is_signed(pdf):
        return []
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields

    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        encrypted = reader.encrypted
        fields = [] if encrypted else list(enumerate_sig_fields(reader, filled_status=True))
    # pyHanko raises many kinds of errors on broken files; any of them means unreadable.
    except Exception as error:
        raise PdfUnusable(f"the signed PDF cannot be read: {error}") from None
    if encrypted:
        raise PdfUnusable("the PDF is encrypted")
    if not fields:
        return []
    roots = _system_roots() if trust_roots is None else _load_roots(trust_roots, strict=True)
    return _run(_inspect_all(reader, fields, roots, len(pdf)))


async def _inspect_all(
    reader: PdfFileReader,
    fields: list[tuple[str, Any, Any]],
    roots: tuple[x509.Certificate, ...],
    length: int,
) -> list[PdfSignature]:
    found: list[tuple[int, PdfSignature]] = []
    for name, value, field in fields:
        ranges = _byte_range(value)
        # Revisions follow one another in the file: where the signed range ends is their order.
        end = ranges[2] + ranges[3] if ranges else length
        found.append((end, await _inspect(reader, name, field, ranges, roots, length)))
    return [signature for _, signature in sorted(found, key=lambda pair: pair[0])]


async def _inspect(
    reader: PdfFileReader,
    name: str,
    field: Any,
    ranges: list[int] | None,
    roots: tuple[x509.Certificate, ...],
    length: int,
) -> PdfSignature:
    from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
    from pyhanko_certvalidator import ValidationContext

    covers_whole_file = ranges is not None and ranges[2] + ranges[3] == length
    signature: EmbeddedPdfSignature | None = None
    # No fetching: an OCSP or CRL lookup would make a deposit depend on a third party's server;
    # revocation is soft-fail, so trust means "chains to a root", not "not revoked".
    context = ValidationContext(trust_roots=list(roots), allow_fetching=False)
    status: PdfSignatureStatus | DocumentTimestampStatus
    try:
        signature = EmbeddedPdfSignature(reader, field, name)
        # The diff analysis judges what an incremental update changed; `covers_whole_file`
        # already tells the caller there is one, and the gateway deposits the file as it is.
        if signature.sig_object_type == "/DocTimeStamp":
            status = await async_validate_pdf_timestamp(signature, context, skip_diff=True)
        else:
            status = await async_validate_pdf_signature(
                signature, signer_validation_context=context, skip_diff=True
            )
    # A signature pyHanko cannot evaluate (malformed CMS, unsupported SubFilter) must read as
    # broken, never as absent, and never crash the caller.
    except Exception as error:
        return PdfSignature(
            intact=False,
            signer=_signer_name(signature),
            signed_at=None,
            trusted=None,
            covers_whole_file=covers_whole_file,
            problem=f"the signature cannot be evaluated: {error}",
        )
    intact = bool(status.intact and status.valid)
    return PdfSignature(
        intact=intact,
        signer=_common_name(status.signing_cert),
        signed_at=_signed_at(status),
        trusted=bool(status.trusted) if intact else None,
        covers_whole_file=covers_whole_file,
        problem=None if intact else _problem(status),
    )


def _byte_range(value: Any) -> list[int] | None:
    try:
        ranges = [int(item) for item in value.get_object()["/ByteRange"]]
    except Exception:
        return None
    return ranges if len(ranges) == 4 and ranges[0] == 0 else None


def _problem(status: PdfSignatureStatus | DocumentTimestampStatus) -> str:
    if not status.intact:
        return "the signed bytes were changed after signing (digest mismatch)"
    return "the signature value does not verify with the signer's key"


def _signed_at(status: PdfSignatureStatus | DocumentTimestampStatus) -> datetime | None:
    from pyhanko.sign.validation.status import DocumentTimestampStatus

    if isinstance(status, DocumentTimestampStatus):
        return status.timestamp
    timestamp = status.timestamp_validity
    if timestamp is not None:
        return timestamp.timestamp
    return status.signer_reported_dt


def _signer_name(signature: EmbeddedPdfSignature | None) -> str | None:
    if signature is None:
        return None
    try:
        return _common_name(signature.signer_cert)
    except Exception:
        return None


def _common_name(certificate: x509.Certificate | None) -> str | None:
    if certificate is None:
        return None
    name = certificate.subject.native.get("common_name")
    if isinstance(name, list):
        name = name[0] if name else None
    return str(name) if name else None


def _run(coroutine: Coroutine[Any, Any, list[PdfSignature]]) -> list[PdfSignature]:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running = False
    else:
        running = True
    if not running:
        return asyncio.run(coroutine)
    # Called on a running loop after all: asyncio.run refuses to nest, so the validation gets
    # a loop of its own on a short-lived thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@lru_cache(maxsize=1)
def _system_roots() -> tuple[x509.Certificate, ...]:
    # The store Python's ssl module uses (OpenSSL's default paths), read once.
    der = ssl.create_default_context().get_ca_certs(binary_form=True)
    return _load_roots(der, strict=False)


def _load_roots(der: Sequence[bytes], *, strict: bool) -> tuple[x509.Certificate, ...]:
    """Parsed certificates; a bad one raises ValueError when given by the caller, and is
    skipped in the system's store (one odd root must not disable every check)."""
    roots = []
    for item in der:
        try:
            certificate = x509.Certificate.load(item)
            # asn1crypto parses lazily: touch what path building reads so a bad one fails here.
            _ = certificate.subject.hashable, certificate.public_key.dump()
        except (ValueError, TypeError) as error:
            if strict:
                raise ValueError(f"a trust root is not a DER certificate: {error}") from None
            continue
        roots.append(certificate)
    return tuple(roots)
