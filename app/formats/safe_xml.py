"""Parsing XML from outside: no DTD, no entity, no network, bounded size and depth.

ERP documents are untrusted. libxml2 is told not to resolve entities, load a DTD or reach the
network, and `huge_tree=False` keeps its own caps (depth, text node size). On top of that any
DOCTYPE is refused outright: neither UBL nor CII uses one, and a document that declares entities
is either a mistake or an attack (billion laughs, `file:///etc/passwd`); refusing it also keeps
entity tricks away from the schematron's own parser (SaxonC), which would resolve them.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from app.domain.violations import Code

_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}
# Declarations that only a DTD carries; looked for before parsing so that nothing is expanded.
_DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY", b"<!doctype", b"<!entity")
# The same markers in UTF-16 (with or without a BOM): an encoding switch must not hide them.
_UTF16_MARKERS = tuple(
    marker.decode("ascii").encode(codec)
    for marker in (b"<!DOCTYPE", b"<!ENTITY")
    for codec in ("utf-16-le", "utf-16-be")
)


class XmlRefused(Exception):
    """Why a document was not read: a stable code and a sentence for the client."""

    def __init__(self, code: Code, message: str, location: str = "/") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.location = location


def parse_untrusted(data: bytes, *, max_bytes: int) -> etree._Element:
    """The root element of `data`, or `XmlRefused` (XML_INVALID, XML_DTD_REFUSED)."""
    if not data.strip():
        raise XmlRefused(Code.XML_INVALID, "The XML document is empty.")
    if len(data) > max_bytes:
        raise XmlRefused(Code.XML_INVALID, f"The XML document is over the {max_bytes}-byte limit.")
    if any(marker in data for marker in _DTD_MARKERS + _UTF16_MARKERS):
        raise XmlRefused(Code.XML_DTD_REFUSED, _DTD_MESSAGE)
    # A fresh parser per call: lxml parsers are not safe to share between threads.
    parser = etree.XMLParser(**_PARSER_OPTIONS)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as error:
        raise XmlRefused(
            Code.XML_INVALID, f"The document is not well-formed XML: {error}"
        ) from None
    except ValueError as error:  # e.g. an encoding declaration lxml cannot honour
        raise XmlRefused(Code.XML_INVALID, f"The document cannot be read as XML: {error}") from None
    docinfo: Any = root.getroottree().docinfo  # lxml-stubs lack `doctype`
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XmlRefused(Code.XML_DTD_REFUSED, _DTD_MESSAGE)
    if root is None:  # pragma: no cover - lxml raises on an empty document
        raise XmlRefused(Code.XML_INVALID, "The XML document has no root element.")
    return root


_DTD_MESSAGE = (
    "The XML declares a DOCTYPE or entities; UBL and CII documents use neither, so they are "
    "refused (no entity is expanded, no DTD or external file is read)."
)
