"""The conformance pass on a document an ERP sent: XSD and EN 16931 schematron, before the
canonical rules, in the process pool (never on the event loop).

A Factur-X at the EN 16931 profile is checked whole (PDF, XMP, XML). One at BASIC is a subset
of EN 16931: its XML is checked against the EN 16931 rules, all but the one that insists on the
EN 16931 guideline id.
"""

from __future__ import annotations

from dataclasses import replace

from app.formats.conformance import ConformanceReport, Finding, Syntax, check_async
from app.formats.facturx import GUIDELINE_PATH, Level
from app.formats.reading import ReadDocument

# The Factur-X EN16931 schematron's rule on BT-24's value (the guideline id).
GUIDELINE_RULE = "FX-SCH-A-000556"


async def check_received(document: ReadDocument, original: bytes) -> ConformanceReport:
    """What the XSD and the schematron say about the document as received."""
    if document.syntax is Syntax.FACTURX and document.level is Level.BASIC:
        report = await check_async(document.xml, Syntax.CII)
        kept = tuple(f for f in report.findings if not _guideline_finding(f))
        return replace(report, syntax=Syntax.FACTURX, findings=kept)
    return await check_async(original, document.syntax)


def finding_json(finding: Finding) -> dict[str, str]:
    """A finding as an `errors[]` / `warnings[]` entry of the FORMAT_INVALID problem."""
    return {
        "field": "document",
        "code": "FORMAT_INVALID",
        "rule_id": finding.rule_id,
        "severity": finding.severity.value,
        "location": finding.location,
        "message": finding.message,
    }


def _guideline_finding(finding: Finding) -> bool:
    # SVRL locations are positional XPaths (`/*:CrossIndustryInvoice[...]/...`): match on the
    # rule and on the element it names.
    return finding.rule_id == GUIDELINE_RULE and (
        "GuidelineSpecifiedDocumentContextParameter" in finding.location
        or finding.location == GUIDELINE_PATH
    )
