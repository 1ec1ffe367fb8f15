"""End to end under chaos: real processes and HTTP, faults injected, a worker SIGKILLed mid-flight.

The small CI versions of `scripts/chaos.py`, on PostgreSQL: the default channel (CII flux) with
80 invoices, 2 workers, 1 kill; then Factur-X (the ERP's PDF) and SAISIE_API with 30 invoices.
Every accepted invoice must be in the emulator (Chorus) exactly once, with the Chorus id the
gateway recorded, and `submitted` in the gateway; on SAISIE_API, where Chorus numbers the invoice
itself, an ambiguous delivery may instead end `failed` (AMBIGUOUS_DELIVERY), never resent.
"""

from __future__ import annotations

from pathlib import Path

from harness.chaos import DEPOSIT, ChaosOptions, ChaosReport, run_chaos

INVOICES = 80
SMALL = 30


async def _run_chaos(
    tmp_path: Path, invoices: int, *, channel: str, timeout_seconds: float
) -> ChaosReport:
    """A chaos run on PostgreSQL: 2 workers, one of them SIGKILLed once."""
    options = ChaosOptions(
        invoices=invoices,
        workers=2,
        kills=1,
        database="postgresql",
        workdir=tmp_path / "chaos",
        channel=channel,
        timeout_seconds=timeout_seconds,
    )
    return await run_chaos(options)


def _fired_on(report: ChaosReport, endpoint: str) -> int:
    return sum(
        count for rule, count in report.fault_rules_fired.items() if rule.startswith(endpoint)
    )


def _delivered_exactly_once(report: ChaosReport, invoices: int) -> None:
    summary = report.render()
    assert not report.timed_out, summary
    assert report.accepted == invoices, summary
    assert report.duplicates == [], summary
    assert report.lost == [], summary
    assert report.id_mismatches == [], summary
    assert report.unknown_in_chorus == [], summary
    assert report.failed == [], summary
    assert report.ambiguous == [], summary
    assert report.statuses == {"submitted": invoices}, summary
    assert report.emulator_total == invoices, summary
    # SIGTERM at the end is a graceful stop.
    assert set(report.worker_exit_codes.values()) == {0}, summary


async def test_every_invoice_reaches_chorus_exactly_once_despite_faults_and_kills(
    tmp_path: Path,
) -> None:
    report = await _run_chaos(tmp_path, INVOICES, channel="cii", timeout_seconds=40)

    summary = report.render()
    _delivered_exactly_once(report, INVOICES)
    # The default channel: one CII flux per invoice, shown by Chorus as EDI.
    assert report.channel == "cii", summary
    assert report.chorus_modes == {"EDI": INVOICES}, summary
    # The chaos really happened: faults of every kind fired and the kill hit work in flight.
    assert len(report.kills) == 1, summary
    assert report.kills[0].leases_held > 0, summary
    assert report.faults_fired.get("commit_then_drop", 0) > 0, summary
    assert _fired_on(report, DEPOSIT) > 0, summary
    assert sum(report.faults_fired.values()) >= 10, summary


async def test_factur_x_invoices_reach_chorus_exactly_once_despite_faults_and_a_kill(
    tmp_path: Path,
) -> None:
    report = await _run_chaos(tmp_path, SMALL, channel="facturx", timeout_seconds=30)

    summary = report.render()
    _delivered_exactly_once(report, SMALL)
    assert report.chorus_modes == {"EDI": SMALL}, summary
    assert len(report.kills) == 1, summary
    assert _fired_on(report, DEPOSIT) > 0, summary


async def test_saisie_never_duplicates_and_counts_its_ambiguous_deliveries(
    tmp_path: Path,
) -> None:
    report = await _run_chaos(tmp_path, SMALL, channel="saisie", timeout_seconds=30)

    summary = report.render()
    assert report.ok, summary
    assert report.accepted == SMALL, summary
    assert report.duplicates == [], summary
    assert report.lost == [], summary
    assert report.failed == [], summary
    assert report.id_mismatches == [], summary
    assert report.unknown_in_chorus == [], summary
    # Chorus numbers every invoice, so it never refuses one as a duplicate: the gateway must not
    # resend what may have landed. An ambiguous invoice is failed, in Chorus at most once.
    assert report.duplicates_refused == 0, summary
    assert set(report.statuses) <= {"submitted", "failed"}, summary
    assert report.statuses.get("submitted", 0) + len(report.ambiguous) == SMALL, summary
    assert report.statuses.get("failed", 0) == len(report.ambiguous), summary
    assert report.emulator_total == report.statuses.get("submitted", 0) + (
        report.ambiguous_in_chorus
    ), summary
    assert report.chorus_modes == {"SAISIE_API": report.emulator_total}, summary
    assert len(report.kills) == 1, summary
    assert sum(report.faults_fired.values()) >= 5, summary
