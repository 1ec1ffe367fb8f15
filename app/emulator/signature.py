"""Whether a file is a PDF carrying a signature dictionary, read from its bytes alone.

A PDF signature covers the file's bytes except its own value, so its dictionary can never sit in
a compressed object stream: `/ByteRange [a b c d]` and the hex `/Contents <...>` are always
plain bytes of the file. Finding both is what Chorus needs to tell a signed deposit from an
unsigned one; the emulator does not check the cryptography.
"""

from __future__ import annotations

import re

# PDF readers accept the header anywhere in the first 1024 bytes (ISO 32000-1, annex H).
HEADER_WINDOW = 1024
BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*\d+\s+\d+\s+\d+\s+\d+\s*\]")
CONTENTS = re.compile(rb"/Contents\s*<[0-9A-Fa-f\s]+>")


def is_pdf(content: bytes) -> bool:
    """Whether the file starts like a PDF."""
    return b"%PDF-" in content[:HEADER_WINDOW]


def is_signed_pdf(content: bytes) -> bool:
    """Whether the file is a PDF with a signature dictionary (`/ByteRange` and `/Contents`)."""
    return (
        is_pdf(content)
        and BYTE_RANGE.search(content) is not None
        and CONTENTS.search(content) is not None
    )
