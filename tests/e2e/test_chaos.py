"""End to end under chaos: real processes and HTTP, faults injected, a worker SIGKILLed mid-flight.

The small CI version of `scripts/chaos.py`: PostgreSQL, 80 invoices, 2 workers, 1 kill. Every
accepted invoice must be in the emulator (Chorus) exactly once, with the Chorus id the gateway
recorded, and `submitted` in the gateway.
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.scenario import ChaosOptions, run_chaos

INVOICES = 80


async def test_every_invoice_reaches_chorus_exactly_once_despite_faults_and_kills(
    tmp_path: Path,
) -> None:
    options = ChaosOptions(
        invoices=INVOICES,
        workers=2,
        kills=1,
        database="postgresql",
        workdir=tmp_path / "chaos",
        timeout_seconds=40,
    )

    report = await run_chaos(options)

    summary = report.render()
    assert not report.timed_out, summary
    assert report.accepted == INVOICES, summary
    assert report.duplicates == [], summary
    assert report.lost == [], summary
    assert report.id_mismatches == [], summary
    assert report.unknown_in_chorus == [], summary
    assert report.failed == [], summary
    assert report.statuses == {"submitted": INVOICES}, summary
    assert report.emulator_total == INVOICES, summary
    # The chaos really happened: faults of every kind fired and the kill hit work in flight.
    assert len(report.kills) == 1, summary
    assert report.kills[0].leases_held > 0, summary
    assert report.faults_fired.get("commit_then_drop", 0) > 0, summary
    assert sum(report.faults_fired.values()) >= 10, summary
    # SIGTERM at the end is a graceful stop.
    assert set(report.worker_exit_codes.values()) == {0}, summary
