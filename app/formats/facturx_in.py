"""The invoice XML inside a Factur-X / ZUGFeRD PDF an ERP sends, read without trusting the PDF.

pypdf would inflate an embedded file whole (up to 75 MB) before anyone could look at it: a few
kilobytes of deflated zeros are enough to make it do so. The `factur-x.xml` stream is therefore
inflated here, by hand, never past the limit; anything but plain or Flate-compressed data is
refused, as is a declared size over the limit. The bytes returned are the ones `read_facturx`
(and the conformance pass) will see.
"""

from __future__ import annotations

import io
import zlib
from typing import Any

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, StreamObject

from app.domain.violations import Code
from app.formats.facturx import FACTURX_FILENAME, PDF_ERRORS
from app.formats.safe_xml import XmlRefused

# ZUGFeRD 2.0 named the same attachment so; later versions and Factur-X use factur-x.xml.
INVOICE_XML_NAMES = (FACTURX_FILENAME, "zugferd-invoice.xml")


class NotFacturX(XmlRefused):
    """The PDF carries no invoice XML at all (or cannot be opened to tell): a plain PDF, which
    multipart submissions still take with a JSON invoice."""

    def __init__(self, message: str) -> None:
        super().__init__(Code.FACTURX_INVALID, message)


def extract_invoice_xml(pdf: bytes, *, max_xml_bytes: int) -> bytes:
    """The embedded invoice XML, at most `max_xml_bytes` once inflated; `XmlRefused`
    (FACTURX_INVALID) when the PDF carries no usable invoice XML, `NotFacturX` when it carries
    none or cannot be opened."""
    try:
        reader = PdfReader(io.BytesIO(pdf))
        if reader.is_encrypted:
            raise NotFacturX("The PDF is encrypted: a Factur-X cannot be.")
        stream = _invoice_stream(reader)
    except XmlRefused:
        raise
    except PDF_ERRORS as error:
        raise NotFacturX(f"The PDF cannot be read: {error}") from None
    if stream is None:
        raise NotFacturX(
            "The PDF carries no factur-x.xml: send a Factur-X, or the invoice as JSON with the "
            "PDF in a multipart 'file' part."
        )
    return _inflate(stream, max_xml_bytes)


def _invoice_stream(reader: PdfReader) -> StreamObject | None:
    for entry in reader.attachment_list:
        if entry.name.lower() not in INVOICE_XML_NAMES:
            continue
        embedded = entry.pdf_object.get("/EF")
        embedded = embedded.get_object() if embedded is not None else None
        if not isinstance(embedded, DictionaryObject):
            raise _refused(f"The PDF's {entry.name} has no embedded file.")
        for key in ("/UF", "/F"):
            if key in embedded:
                stream = embedded[key].get_object()
                if isinstance(stream, StreamObject):
                    return stream
        raise _refused(f"The PDF's {entry.name} is not an embedded file stream.")
    return None


def _inflate(stream: StreamObject, limit: int) -> bytes:
    declared = _declared_size(stream)
    if declared is not None and declared > limit:
        raise _refused(
            f"The embedded invoice XML declares {declared} bytes, over the {limit}-byte limit."
        )
    filters = _filters(stream)
    # The raw, still encoded bytes: pypdf's get_data() would decode them without our bound.
    raw: bytes = getattr(stream, "_data", b"")
    if not filters:
        data = raw
    elif filters == ["/FlateDecode"]:
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(raw, limit + 1)
        except zlib.error as error:
            raise _refused(f"The embedded invoice XML cannot be decompressed: {error}") from None
    else:
        raise _refused(
            f"The embedded invoice XML is encoded with {', '.join(filters)}; only Flate is read."
        )
    if len(data) > limit:
        raise _refused(
            f"The embedded invoice XML inflates past the {limit}-byte limit (a compression bomb?)."
        )
    if not data.strip():
        raise _refused("The embedded invoice XML is empty.")
    return data


def _declared_size(stream: StreamObject) -> int | None:
    params: Any = stream.get("/Params")
    params = params.get_object() if params is not None else None
    if isinstance(params, DictionaryObject):
        size = params.get("/Size")
        if isinstance(size, int):
            return int(size)
    return None


def _filters(stream: StreamObject) -> list[str]:
    value: Any = stream.get("/Filter")
    value = value.get_object() if value is not None else None
    if value is None:
        return []
    if isinstance(value, ArrayObject):
        return [str(item) for item in value]
    return [str(value)]


def _refused(message: str) -> XmlRefused:
    return XmlRefused(Code.FACTURX_INVALID, message)
