"""Supporting documents (Chorus's "pièces jointes complémentaires"): Chorus's limits, checked.

Pure. Chorus refuses an attachment whose name is over 50 characters (extension included) or has
no extension from its list, one over 10 Mo (code 20003), and an invoice whose PDF and attachments
pass 120 Mo (chorus-pro.md §5); the gateway says so at submission rather than at delivery.

On a CII or UBL flux the attachments travel inside the document as EN 16931 BG-24 additional
documents, which take only the MIME types EN 16931 lists (PDF, PNG, JPEG, CSV, XLSX, ODS): any
other is refused at submission, naming those extensions, instead of being dropped at delivery.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from app.domain.violations import Code, Violation
from app.formats.model import mime_code_for
from app.invoices.channels import Channel

# Stable codes ERPs match on (product.md); the domain's Code lists the invoice's own.
ATTACHMENT_INVALID = Code.ATTACHMENT_INVALID
ATTACHMENT_TOO_LARGE = Code.ATTACHMENT_TOO_LARGE

CHORUS_NAME_MAX = 50
# Chorus's list as OCA's connector enforces it, with XSD and XSL that FE adds (chorus-pro.md §5).
CHORUS_EXTENSIONS = frozenset(
    {
        "bmp", "bz2", "csv", "doc", "docx", "fax", "gif", "gz", "gzip", "htm", "html", "jpeg",
        "jpg", "odp", "ods", "odt", "p7s", "pdf", "png", "pps", "ppt", "pptx", "rtf", "svg",
        "tgz", "tif", "tiff", "txt", "xhtml", "xlc", "xls", "xlsx", "xlm", "xml", "xsd", "xsl",
        "zip",
    }
)  # fmt: skip
# Path separators would let a name escape where it is written; quotes and control characters
# would break the Content-Disposition it is served back with.
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\"]')
# What Factur-X, ZUGFeRD and XRechnung readers take for the invoice itself.
RESERVED_NAMES = frozenset({"factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml"})
_FLUX_EMBEDDABLE = (Channel.CII, Channel.UBL)
OCTET_STREAM = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class UploadedAttachment:
    """A supporting document as received (its bytes read once, at most the limit plus one)."""

    filename: str
    content: bytes

    @property
    def sha256(self) -> str:
        """The content's digest: stored, answered, and part of the idempotency fingerprint."""
        return hashlib.sha256(self.content).hexdigest()

    @property
    def content_type(self) -> str:
        """The MIME type its extension names (what Chorus's `pieceJointeTypeMime` expects)."""
        return mimetypes.guess_type(self.filename, strict=False)[0] or OCTET_STREAM


@dataclass(frozen=True, slots=True)
class AttachmentLimits:
    """API_MAX_ATTACHMENT_BYTES, API_MAX_ATTACHMENTS_TOTAL_BYTES, API_MAX_ATTACHMENTS."""

    max_bytes: int
    max_total_bytes: int
    max_count: int


def extension(filename: str) -> str:
    """The lower-cased extension, without the dot ("" when there is none)."""
    stem, dot, ext = filename.rpartition(".")
    return ext.lower() if dot and stem else ""


def attachment_violations(
    attachments: Sequence[UploadedAttachment],
    limits: AttachmentLimits,
    *,
    pdf_size: int = 0,
    stored_count: int = 0,
    stored_bytes: int = 0,
    stored_names: Collection[str] = (),
) -> list[Violation]:
    """One violation per bad part (`attachments.N`), then the count and total if over."""
    violations = []
    # Names are keys beside the CII in a Factur-X: two files of one name would be one.
    seen = {name.lower() for name in stored_names}
    for index, attachment in enumerate(attachments):
        field = f"attachments.{index}"
        problem = _one(field, attachment, limits)
        if problem is None and attachment.filename.lower() in seen:
            problem = Violation(
                field,
                ATTACHMENT_INVALID,
                f"Another attachment of this invoice is already named '{attachment.filename}'.",
            )
        if problem is not None:
            violations.append(problem)
        seen.add(attachment.filename.lower())
    if stored_count + len(attachments) > limits.max_count:
        violations.append(
            Violation(
                "attachments",
                ATTACHMENT_INVALID,
                f"At most {limits.max_count} attachments per invoice (API_MAX_ATTACHMENTS).",
            )
        )
    total = pdf_size + stored_bytes + sum(len(a.content) for a in attachments)
    if total > limits.max_total_bytes:
        violations.append(
            Violation(
                "attachments",
                ATTACHMENT_TOO_LARGE,
                f"The invoice PDF and its attachments come to {total} bytes; Chorus Pro takes "
                f"{limits.max_total_bytes} at most (API_MAX_ATTACHMENTS_TOTAL_BYTES).",
            )
        )
    return violations


def _one(field: str, attachment: UploadedAttachment, limits: AttachmentLimits) -> Violation | None:
    name = attachment.filename
    if not name or _UNSAFE_NAME.search(name):
        return Violation(
            field,
            ATTACHMENT_INVALID,
            "Each attachment needs a file name, without '/', '\\', quotes or control characters.",
        )
    if name.lower() in RESERVED_NAMES:
        return Violation(
            field, ATTACHMENT_INVALID, f"'{name}' is the name of the invoice's own XML."
        )
    if len(name) > CHORUS_NAME_MAX:
        return Violation(
            field,
            ATTACHMENT_INVALID,
            f"'{name}' is {len(name)} characters; Chorus Pro takes {CHORUS_NAME_MAX} at most, "
            "extension included.",
        )
    if extension(name) not in CHORUS_EXTENSIONS:
        return Violation(
            field,
            ATTACHMENT_INVALID,
            f"'{name}' needs an extension Chorus Pro accepts: "
            f"{', '.join(sorted(CHORUS_EXTENSIONS))}.",
        )
    if not attachment.content:
        return Violation(field, ATTACHMENT_INVALID, f"'{name}' is empty.")
    if len(attachment.content) > limits.max_bytes:
        return Violation(
            field,
            ATTACHMENT_TOO_LARGE,
            f"'{name}' is over the {limits.max_bytes}-byte limit (API_MAX_ATTACHMENT_BYTES; "
            "Chorus Pro refuses files over 10 Mo).",
        )
    return None


def channel_violations(
    attachments: Sequence[UploadedAttachment], channel: Channel, *, first_index: int = 0
) -> list[Violation]:
    """Attachments `channel` cannot carry: on a CII or UBL flux, types EN 16931 BG-24 lacks."""
    if channel not in _FLUX_EMBEDDABLE:
        return []
    allowed = ", ".join(sorted(ext for ext in CHORUS_EXTENSIONS if mime_code_for(f"x.{ext}")))
    return [
        Violation(
            f"attachments.{index}",
            ATTACHMENT_INVALID,
            f"'{attachment.filename}' cannot go inside a {channel.value.upper()} invoice "
            f"(EN 16931 BG-24 takes {allowed}); send it as one of those, or with the invoice's "
            "PDF (it then goes beside the XML in a Factur-X).",
        )
        for index, attachment in enumerate(attachments, start=first_index)
        if extension(attachment.filename) in CHORUS_EXTENSIONS
        and mime_code_for(attachment.filename) is None
    ]
