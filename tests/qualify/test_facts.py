"""Judging observations against the gateway's assumptions: pure tables of cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.qualify.dates import date_layout, infer_zone
from app.qualify.facts import Assumptions, Fact, judge, setting_changes
from app.qualify.observations import DuplicateProbe, Exchange, Observations, Submitted


def observations(**fields: object) -> Observations:
    seen = Observations(
        target="emulator",
        api_url="http://emulator.test",
        supplier_siret="41234567010000",
        started_at=datetime(2026, 11, 28, 10, 0, tzinfo=UTC),
    )
    for name, value in fields.items():
        setattr(seen, name, value)
    return seen


def fact(facts: list[Fact], name: str) -> Fact:
    return next(f for f in facts if f.name == name)


@pytest.mark.parametrize(
    ("raw", "layout"),
    [
        ("2026-11-28 11:52", "YYYY-MM-DD HH:MM"),
        ("2026-11-28 11:52:07", "YYYY-MM-DD HH:MM:SS"),
        ("2026-11-28T11:52:07.123", "YYYY-MM-DDTHH:MM:SS.fff"),
        ("28/11/2026 11:52", "DD/MM/YYYY HH:MM"),
        ("2026-11-28T11:52:07.123+01:00", "ISO 8601 with offset"),
        (1795859527000, "epoch milliseconds"),
        ("28.11.2026 11h52", "unrecognised: 99.99.9999 99h99"),
    ],
)
def test_a_date_layout_is_named(raw: str | int, layout: str) -> None:
    assert date_layout(raw) == layout


WINTER = datetime(2026, 11, 28, 10, 0, 20, tzinfo=UTC)
SUMMER = datetime(2026, 7, 1, 10, 0, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "at", "zone"),
    [
        ("2026-11-28 11:00", WINTER, "Europe/Paris"),
        ("2026-07-01 12:00", SUMMER, "Europe/Paris"),
        ("2026-11-28 10:00", WINTER, "UTC"),
        ("28/11/2026 10:00", WINTER, "UTC"),
        ("2026-11-28 05:00", WINTER, "UTC-05:00"),
        ("2026-11-28T11:00:20.000+01:00", WINTER, "explicit offset UTC+01:00"),
        ("2026-11-28", WINTER, "unknown"),
        (1795859527000, WINTER, "UTC (epoch)"),
    ],
)
def test_the_zone_of_a_date_is_told_from_when_the_event_happened(
    raw: str | int, at: datetime, zone: str
) -> None:
    assert infer_zone(raw, at, at + timedelta(seconds=2)) == zone


def test_a_run_that_observed_nothing_matches_nothing_and_changes_nothing() -> None:
    facts = judge(observations(errors={"saisie": "HTTP 400, codeRetour 20301"}), Assumptions())
    assert {f.matches for f in facts} == {None}
    assert "HTTP 400, codeRetour 20301" in fact(facts, "saisie.number_kept").observed
    assert setting_changes(facts) == {}


@pytest.mark.parametrize(
    ("chorus_number", "keeps", "matches", "changes"),
    [
        ("QUAL-261128100000S01", False, False, {"CHORUS_SAISIE_KEEPS_NUMBER": "true"}),
        ("QUAL-261128100000S01", True, True, {}),
        ("20260000000000000042", True, False, {"CHORUS_SAISIE_KEEPS_NUMBER": "false"}),
        ("20260000000000000042", False, True, {}),
    ],
)
def test_the_saisie_number_fact_names_the_setting_that_matches_chorus(
    chorus_number: str, keeps: bool, matches: bool, changes: dict[str, str]
) -> None:
    saisie = Submitted("saisie", "QUAL-261128100000S01", 1, chorus_number)
    facts = judge(observations(saisie=saisie), Assumptions(saisie_keeps_number=keeps))
    assert fact(facts, "saisie.number_kept").matches is matches
    assert setting_changes(facts) == changes


def test_a_duplicate_chorus_accepts_or_answers_with_an_unknown_code_is_a_mismatch() -> None:
    accepted = DuplicateProbe("pdf", "QUAL-261128100000P01", accepted_id=7)
    refused = DuplicateProbe("pdf", "QUAL-261128100000P01", refusal=Exchange(400, 20999, "déjà"))
    known = DuplicateProbe("pdf", "QUAL-261128100000P01", refusal=Exchange(200, 20300, "déjà"))

    assert fact(
        judge(observations(duplicate=accepted), Assumptions()), "duplicate.refusal"
    ) == Fact(
        "duplicate.refusal",
        "codeRetour 20300 (CHORUS_DUPLICATE_CODES), HTTP 200 or 400",
        "pdf QUAL-261128100000P01 sent again: accepted as a second invoice "
        "(identifiantFactureCPP 7)",
        False,
        "L",
        note="Chorus does not refuse a number it already has: never resend blindly",
    )
    unknown = fact(judge(observations(duplicate=refused), Assumptions()), "duplicate.refusal")
    assert unknown.matches is False
    assert 'HTTP 400, codeRetour 20999, libelle "déjà"' in unknown.observed
    assert unknown.note is not None
    assert (unknown.setting, unknown.value) == ("CHORUS_DUPLICATE_CODES", "20300,20999")
    assert fact(judge(observations(duplicate=known), Assumptions()), "duplicate.refusal").matches


@pytest.mark.parametrize(
    ("answer", "results", "matches"),
    [
        (Exchange(200, 20000, "aucun résultat"), None, True),
        (Exchange(400, 20000, "aucun résultat"), None, True),
        (Exchange(200, 0, "TRA_MSG_00.000"), 0, True),
        (Exchange(200, 20777, "rien"), None, False),
        (Exchange(200, 0, "TRA_MSG_00.000"), 3, False),
    ],
)
def test_an_empty_search_matches_when_the_client_reads_it_as_none(
    answer: Exchange, results: int | None, matches: bool
) -> None:
    seen = observations(empty_search=answer, empty_search_results=results)
    assert fact(judge(seen, Assumptions()), "search.empty").matches is matches


@pytest.mark.parametrize(
    ("answer", "matches"),
    [
        (Exchange(200, 20000, "n'existe pas"), True),
        (Exchange(400, 20000, "n'existe pas"), True),
        (Exchange(404, None, None, "Not Found"), False),
    ],
)
def test_a_refusal_matches_on_200_or_400_with_a_code(answer: Exchange, matches: bool) -> None:
    assert fact(
        judge(observations(refusal=answer), Assumptions()), "refusal.http_status"
    ).matches is (matches)
