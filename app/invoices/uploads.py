"""Reading the PDF variant of `POST /v1/invoices`: a `file` part and an `invoice` JSON part."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from app.domain.violations import Code, Violation
from app.errors import MalformedRequest
from app.invoices.attachments import AttachmentLimits, UploadedAttachment
from app.invoices.parsing import decode_json_body

PDF_MAGIC = b"%PDF-"
# The PDF header may follow some bytes of junk; readers look in the first kilobyte.
PDF_HEADER_WINDOW = 1024
CHORUS_FILENAME_MAX = 50  # Chorus refuses attachment names longer than this, extension included.


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """The invoice PDF as received."""

    filename: str
    content: bytes

    @property
    def sha256(self) -> str:
        """The content's digest, part of the idempotency fingerprint."""
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True, slots=True)
class PdfSubmission:
    """The parts, read; the file's problems are listed, not raised (the attachments' are
    checked with the invoice)."""

    document: dict[str, Any]
    pdf: UploadedFile | None
    violations: list[Violation]
    attachments: tuple[UploadedAttachment, ...] = ()


async def read_pdf_submission(
    request: Request, *, max_pdf_bytes: int, limits: AttachmentLimits
) -> PdfSubmission:
    """Parse the multipart body; a missing or malformed `invoice` part is a 400.

    Each file is read into memory once, at most its limit plus one byte (enough to tell it is
    over); those bytes are the ones checked, fingerprinted and stored.
    """
    async with request.form(
        max_files=limits.max_count + 2, max_fields=1, max_part_size=1024 * 1024
    ) as form:
        invoice_part = form.get("invoice")
        file_part = form.get("file")
        if invoice_part is None:
            raise MalformedRequest("The multipart body needs an 'invoice' part (the JSON).")
        text = invoice_part if isinstance(invoice_part, str) else (await invoice_part.read())
        document = decode_json_body(text.encode("utf-8") if isinstance(text, str) else text)
        attachments = await _attachments(form.getlist(ATTACHMENT_PART), limits)
        if not isinstance(file_part, UploadFile):
            # Supporting documents may come with a JSON invoice, which then has no PDF.
            missing = [] if attachments else [Violation("file", Code.PDF_INVALID, _NO_FILE)]
            return PdfSubmission(document, None, missing, attachments)
        content = await file_part.read(max_pdf_bytes + 1)
        filename = file_part.filename or "invoice.pdf"
    return PdfSubmission(
        document,
        UploadedFile(filename, content),
        pdf_violations(content, max_pdf_bytes),
        attachments,
    )


ATTACHMENT_PART = "attachment"
_NO_FILE = "The 'file' part is missing."


async def read_attachments(request: Request, limits: AttachmentLimits) -> list[UploadedAttachment]:
    """The `attachment` parts of a multipart body (`POST /v1/invoices/{id}/attachments`)."""
    async with request.form(max_files=limits.max_count + 1, max_fields=0) as form:
        attachments = await _attachments(form.getlist(ATTACHMENT_PART), limits)
    if not attachments:
        raise MalformedRequest("The multipart body needs at least one 'attachment' part.")
    return list(attachments)


async def _attachments(
    parts: list[UploadFile | str], limits: AttachmentLimits
) -> tuple[UploadedAttachment, ...]:
    read = []
    for part in parts:
        if not isinstance(part, UploadFile):
            raise MalformedRequest("Each 'attachment' part must be a file (with a filename).")
        content = await part.read(limits.max_bytes + 1)
        read.append(UploadedAttachment((part.filename or "").strip(), content))
    return tuple(read)


def pdf_violations(content: bytes, max_pdf_bytes: int) -> list[Violation]:
    """What is wrong with the file as a Chorus invoice PDF."""
    if not content:
        return [Violation("file", Code.PDF_INVALID, "The PDF is empty.")]
    if len(content) > max_pdf_bytes:
        return [
            Violation("file", Code.PDF_INVALID, f"The PDF is over the {max_pdf_bytes}-byte limit.")
        ]
    if PDF_MAGIC not in content[:PDF_HEADER_WINDOW]:
        return [Violation("file", Code.PDF_INVALID, "The file is not a PDF.")]
    return []


def chorus_filename(invoice_number: str) -> str:
    """An attachment name Chorus accepts: safe characters, at most 50 with `.pdf`."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", invoice_number)[: CHORUS_FILENAME_MAX - 4]
    return f"{stem or 'facture'}.pdf"
