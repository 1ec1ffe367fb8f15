"""The pure rules and lifecycle functions, without an app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.emulator.directory import Directory, read_directory_file
from app.emulator.factures.schemas import SoumettreFactureIn
from app.emulator.lifecycle import current, fate_of, override, planned_steps, schedule, visible
from app.emulator.rules import SubmissionContext, check_attachment, check_submission, siret_is_valid
from app.emulator.settings import DEFAULT_DIRECTORY_FILE, EmulatorSettings

from .builders import ACME, saisie_invoice

CONFIG = EmulatorSettings(_env_file=None)
T0 = datetime(2025, 1, 1, tzinfo=UTC)
DIRECTORY = Directory(read_directory_file(DEFAULT_DIRECTORY_FILE), T0, 365)


@pytest.mark.parametrize(
    ("siret", "valid"),
    [
        ("11000201100044", True),
        ("12345678200051", True),
        ("12345678901234", False),
        ("1234567820005", False),
        ("1234567820005A", False),
        ("35600000000048", True),
        ("35600000000006", True),
        ("35600000000005", False),
    ],
)
def test_siret_validity(siret: str, valid: bool) -> None:
    assert siret_is_valid(siret) is valid


def test_every_violation_is_reported_in_order() -> None:
    body = saisie_invoice(service=None, ej=None, invoice_type="AVOIR", ttc=1.0)
    context = SubmissionContext(
        caller_structure_ids=frozenset({999}),
        recipient=DIRECTORY.by_identifier("11000201100044"),
        duplicate=True,
    )

    refusals = check_submission(SoumettreFactureIn.model_validate(body), context, CONFIG)

    assert [r.code for r in refusals] == [20307, 20304, 20303, 20308, 20305, 20300]


def test_a_valid_invoice_has_no_violation() -> None:
    context = SubmissionContext(
        caller_structure_ids=frozenset({ACME.structure_id}),
        recipient=DIRECTORY.by_identifier("11000201100044"),
        duplicate=False,
    )

    assert (
        check_submission(SoumettreFactureIn.model_validate(saisie_invoice()), context, CONFIG) == []
    )


@pytest.mark.parametrize(
    ("name", "extension", "size", "codes"),
    [
        ("facture.pdf", "pdf", 10, []),
        ("facture.PDF", ".PDF", 10, []),
        ("facture.pdf", "PDF", 10 * 1024 * 1024 + 1, [20003]),
        ("facture", "PDF", 11 * 1024 * 1024, [20003, 20091]),
    ],
)
def test_attachment_rules(name: str, extension: str, size: int, codes: list[int]) -> None:
    assert [r.code for r in check_attachment(name, extension, size, CONFIG)] == codes


def test_the_fate_draw_follows_the_shares() -> None:
    keys = [f"41234567010000:F-{n}:FACTURE" for n in range(1000)]

    fates = [fate_of(key, 0.1, 0.2) for key in keys]

    assert fates == [fate_of(key, 0.1, 0.2) for key in keys]
    assert 50 < fates.count("rejected") < 150
    assert 120 < fates.count("suspended") < 280
    assert {fate_of(key, 0.0, 0.0) for key in keys} == {"paid"}


def test_a_schedule_reveals_itself_over_time() -> None:
    events = schedule(T0, 5, planned_steps("rejected", "non", "attente"), first_id=10)

    assert [e.id for e in events] == [10, 11, 12, 13]
    assert current(events, T0).code == "DEPOSEE"
    assert current(events, T0 + timedelta(seconds=14)).code == "MISE_A_DISPOSITION"
    assert current(events, T0 + timedelta(seconds=15)).comment == "non"


def test_an_override_drops_what_had_not_happened_yet() -> None:
    events = schedule(T0, 5, planned_steps("paid", "", ""), first_id=1)
    now = T0 + timedelta(seconds=6)

    changed = override(events, now, 99, "A_RECYCLER", "mauvais service")

    assert [e.code for e in changed] == ["DEPOSEE", "EN_COURS_ACHEMINEMENT", "A_RECYCLER"]
    assert visible(changed, now + timedelta(days=1)) == changed
