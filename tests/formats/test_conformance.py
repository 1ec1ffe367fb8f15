"""The checker itself: it fails broken documents with the official rule ids, and runs off-loop."""

from __future__ import annotations

import os
import signal
from concurrent.futures.process import BrokenProcessPool

import pytest
from lxml import etree

from app.formats import conformance
from app.formats.cii import write_cii
from app.formats.conformance import (
    ConformanceReport,
    Finding,
    Severity,
    Syntax,
    check,
    check_async,
    check_schematron,
    check_xsd,
)
from tests.formats.corpus import scenario

UBL_INVOICE = b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>'
UBL_CREDIT_NOTE = b'<CreditNote xmlns="urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"/>'
SELLER_COUNTRY = b"<ram:CountryID>FR</ram:CountryID>"


@pytest.fixture(scope="module")
def valid_cii() -> bytes:
    """single_rate: 2 x 100.00 at 20 %, 240.00 in all."""
    return write_cii(scenario("single_rate").document())


def _without_first(document: bytes, fragment: bytes) -> bytes:
    start = document.index(fragment)
    return document[:start] + document[start + len(fragment) :]


def test_a_valid_document_has_no_finding(valid_cii: bytes) -> None:
    assert check_xsd(valid_cii, Syntax.CII) == []
    assert check_schematron(valid_cii, Syntax.CII) == []
    assert check(valid_cii, Syntax.CII).ok


@pytest.mark.parametrize(
    ("old", "new", "rules"),
    [
        pytest.param(
            b"<ram:GrandTotalAmount>240.00<",
            b"<ram:GrandTotalAmount>250.00<",
            ("BR-CO-15", "BR-CO-16"),
            id="gross_not_net_plus_vat",
        ),
        pytest.param(
            b"<ram:CalculatedAmount>40.00<",
            b"<ram:CalculatedAmount>41.00<",
            ("BR-CO-14", "BR-S-09"),
            id="vat_not_base_times_rate",
        ),
        pytest.param(
            b"<ram:LineTotalAmount>200.00</ram:LineTotalAmount></ram:SpecifiedTradeSettlementLine",
            b"<ram:LineTotalAmount>210.00</ram:LineTotalAmount></ram:SpecifiedTradeSettlementLine",
            ("BR-CO-10", "BR-S-08"),
            id="line_nets_do_not_add_up",
        ),
    ],
)
def test_wrong_arithmetic_breaks_the_official_rules(
    valid_cii: bytes, old: bytes, new: bytes, rules: tuple[str, ...]
) -> None:
    assert old in valid_cii
    report = check(valid_cii.replace(old, new, 1), Syntax.CII)

    assert report.fatal_rule_ids == rules
    assert not report.ok


def test_a_seller_without_country_breaks_br_09_and_the_xsd(valid_cii: bytes) -> None:
    report = check(_without_first(valid_cii, SELLER_COUNTRY), Syntax.CII)

    assert {"BR-09", "XSD"} <= set(report.fatal_rule_ids)
    [br09] = [finding for finding in report.fatal if finding.rule_id == "BR-09"]
    assert "Seller country code" in br09.message
    assert br09.location.startswith("/*:CrossIndustryInvoice")


def test_elements_out_of_the_xsd_order_are_an_xsd_finding_with_its_path(valid_cii: bytes) -> None:
    moved = valid_cii.replace(b"<ram:TypeCode>380</ram:TypeCode>", b"", 1).replace(
        b"</ram:IssueDateTime>", b"</ram:IssueDateTime><ram:TypeCode>380</ram:TypeCode>", 1
    )

    [finding] = check_xsd(moved, Syntax.CII)

    assert finding.rule_id == conformance.XSD_RULE
    assert finding.severity is Severity.FATAL
    assert finding.location == "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:IssueDateTime"


def test_a_rule_the_schematron_flags_as_warning_is_not_fatal(valid_cii: bytes) -> None:
    # An empty header delivery is XSD-valid but draws PEPPOL-EN16931-R008 (flag="warning"),
    # while CEN's BR rules carry no flag at all and count as fatal.
    start = valid_cii.index(b"<ram:ApplicableHeaderTradeDelivery>")
    end = valid_cii.index(b"</ram:ApplicableHeaderTradeDelivery>")
    emptied = valid_cii[:start] + b"<ram:ApplicableHeaderTradeDelivery/>" + valid_cii[end + 36 :]

    report = check(emptied, Syntax.CII)

    assert [(f.rule_id, f.severity) for f in report.findings] == [
        ("PEPPOL-EN16931-R008", Severity.WARNING)
    ]
    assert report.ok
    assert report.warnings == report.findings


@pytest.mark.parametrize(
    ("document", "syntax", "rule"),
    [
        pytest.param(b"<rsm:Cross", Syntax.CII, conformance.NOT_WELL_FORMED, id="not_well_formed"),
        pytest.param(UBL_INVOICE, Syntax.CII, conformance.WRONG_ROOT, id="ubl_announced_as_cii"),
        pytest.param(
            b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            + UBL_INVOICE.replace(b"/>", b">&e;</Invoice>"),
            Syntax.UBL,
            conformance.DOCTYPE_REFUSED,
            id="doctype_with_external_entity",
        ),
    ],
)
def test_an_unreadable_document_is_one_fatal_finding_and_no_schematron_run(
    document: bytes, syntax: Syntax, rule: str
) -> None:
    report = check(document, syntax)

    assert [(f.rule_id, f.severity) for f in report.findings] == [(rule, Severity.FATAL)]
    assert check_schematron(document, syntax)[0].rule_id == rule


def test_what_the_en16931_profile_does_not_use_is_refused_though_the_xsd_allows_it(
    valid_cii: bytes,
) -> None:
    # Factur-X reports these as svrl:successful-report without an id.
    with_scheme = valid_cii.replace(
        b"<ram:ID>F2026-000101</ram:ID>", b'<ram:ID schemeID="X">F2026-000101</ram:ID>', 1
    )

    report = check(with_scheme, Syntax.CII)

    assert [(f.rule_id, f.severity) for f in report.findings] == [
        (conformance.PROFILE_REPORT, Severity.FATAL)
    ]
    assert "@schemeID" in report.findings[0].message


def test_cii_announced_as_ubl_is_refused(valid_cii: bytes) -> None:
    assert check(valid_cii, Syntax.UBL).fatal_rule_ids == (conformance.WRONG_ROOT,)


@pytest.mark.parametrize("document", [UBL_INVOICE, UBL_CREDIT_NOTE], ids=["invoice", "credit_note"])
def test_ubl_roots_pick_their_own_xsd_and_the_cen_ubl_schematron(document: bytes) -> None:
    report = check(document, Syntax.UBL)

    [xsd] = [finding for finding in report.findings if finding.rule_id == conformance.XSD_RULE]
    root_name = etree.QName(etree.fromstring(document)).localname
    assert root_name in xsd.message  # the Invoice XSD for Invoice, the CreditNote XSD otherwise
    assert {"BR-01", "BR-02", "BR-CO-18"} <= set(report.fatal_rule_ids)


def test_a_report_sorts_its_findings_by_weight() -> None:
    report = ConformanceReport(
        Syntax.CII,
        (
            Finding("BR-CO-15", Severity.FATAL, "/a", "x"),
            Finding("CII-SR-474", Severity.WARNING, "/b", "y"),
            Finding("BR-CO-15", Severity.FATAL, "/c", "z"),
            Finding("INFO", Severity.INFORMATION, "/d", "w"),
        ),
    )

    assert report.fatal_rule_ids == ("BR-CO-15",)
    assert [f.location for f in report.fatal] == ["/a", "/c"]
    assert [f.rule_id for f in report.warnings] == ["CII-SR-474"]
    assert not report.ok


async def test_the_async_check_runs_in_a_worker_process_with_the_same_verdict(
    valid_cii: bytes,
) -> None:
    broken = _without_first(valid_cii, SELLER_COUNTRY)
    try:
        remote = await check_async(broken, Syntax.CII)
        valid = await check_async(valid_cii, Syntax.CII)
    finally:
        conformance.shutdown()

    assert remote == check(broken, Syntax.CII)
    assert valid.findings == ()


async def test_a_dead_worker_fails_the_call_and_the_next_call_gets_a_fresh_pool(
    valid_cii: bytes,
) -> None:
    try:
        first = await check_async(valid_cii, Syntax.CII)
        pool = conformance._pool()
        for pid in list(pool._processes):  # the worker this test's pool started
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(BrokenProcessPool):
            await check_async(valid_cii, Syntax.CII)
        again = await check_async(valid_cii, Syntax.CII)
    finally:
        conformance.shutdown()

    assert first.ok
    assert again.ok
    assert conformance._executor is None
