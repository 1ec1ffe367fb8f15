"""`gateway qualify`'s scenario against the emulator served over real HTTP, in each of its modes:
the report finds exactly the configured behaviour, and `--apply`'s settings then match it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.chorus.accounts import TechnicalAccount
from app.chorus.client import ChorusClient
from app.emulator.main import create_emulator_app
from app.emulator.settings import EmulatorSettings
from app.qualify.envfile import apply_to_env_file
from app.qualify.facts import Fact
from app.qualify.invoices import NOTE, PREFIX
from app.qualify.probe import QualifyError
from app.qualify.report import Qualification
from app.qualify.runner import qualify
from app.qualify.scenario import QualSupplier, ScenarioOptions
from app.settings import ChorusSettings
from tests.builders import SUPPLIER_SIRET, SUPPLIER_VAT_NUMBER
from tests.chorus.builders import NO_FLAGS_SIRET, SUPPLIER_1, chorus_settings, saisie_invoice
from tests.support.servers import serve_app

SUPPLIER = QualSupplier(SUPPLIER_SIRET, SUPPLIER_1, vat_number=SUPPLIER_VAT_NUMBER)
# Poll the flux report quickly: the emulator integrates it after `flux_processing_seconds`.
FAST = ScenarioOptions(flux_wait_seconds=5.0, flux_poll_seconds=0.05)
# Only these calls: reads, submissions, uploads, one flux. Never a status change.
HARMLESS_CALLS = {
    "oauth/token",
    "structures/v1/rechercher",
    "structures/v1/consulter",
    "structures/v1/rechercher/services",
    "transverses/v1/health-check",
    "transverses/v1/ajouter/fichier",
    "transverses/v1/consulterCRDetaille",
    "factures/v1/soumettre",
    "factures/v1/deposer/flux",
    "factures/v1/rechercher/fournisseur",
    "factures/v1/consulter/fournisseur",
    "factures/v1/consulter/historique",
}


@contextmanager
def emulator(**config: object) -> Iterator[str]:
    """An emulator in the given mode, served on its own port for one test."""
    config.setdefault("flux_processing_seconds", 0.2)
    settings = EmulatorSettings(_env_file=None, lifecycle_mode="manual", **config)  # type: ignore[arg-type]
    with serve_app(create_emulator_app(settings)) as url:
        yield url


async def run(url: str, settings: ChorusSettings | None = None, **overrides: Any) -> Qualification:
    return await qualify(settings or chorus_settings(api_url=url, **overrides), SUPPLIER, FAST)


def fact(qualification: Qualification, name: str) -> Fact:
    return next(f for f in qualification.facts if f.name == name)


async def test_against_the_default_emulator_every_fact_matches_the_default_gateway() -> None:
    with emulator() as url:
        outcome = await run(url)

    assert {f.name: f.matches for f in outcome.facts if f.matches is not True} == {}
    assert outcome.changes == {}
    assert outcome.observations.errors == {}
    assert fact(outcome, "token.lifetime").observed == "expires_in 3600 s"
    assert fact(outcome, "auth.wrong_cpro_account").observed == "HTTP 403, empty body"
    assert fact(outcome, "flux.report").observed.startswith("IN_INTEGRE; 0 listeErreurDP")
    assert fact(outcome, "history.time_zone").observed == "Europe/Paris"
    assert fact(outcome, "history.date_format").observed.startswith("YYYY-MM-DD HH:MM (e.g. ")


@pytest.mark.parametrize(
    ("numbering", "wrong_setting", "kept", "written"),
    [("chorus", True, False, "false"), ("sender", False, True, "true")],
)
async def test_the_saisie_numbering_is_found_and_apply_writes_the_setting_that_matches(
    tmp_path: Path, numbering: str, wrong_setting: bool, kept: bool, written: str
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# mine\nCHORUS_SAISIE_KEEPS_NUMBER=" + str(wrong_setting).lower() + "\n")
    with emulator(saisie_numbering=numbering) as url:
        first = await run(url, saisie_keeps_number=wrong_setting)
        saisie = fact(first, "saisie.number_kept")
        assert saisie.matches is False
        assert saisie.observed.startswith("kept (QUAL-" if kept else "replaced: sent QUAL-")
        assert first.changes == {"CHORUS_SAISIE_KEEPS_NUMBER": written}

        apply_to_env_file(env_file, first.changes)
        assert env_file.read_text() == f"# mine\nCHORUS_SAISIE_KEEPS_NUMBER={written}\n"
        applied = ChorusSettings(
            _env_file=env_file,
            target="emulator",
            api_url=url,
            token_url=f"{url}/api/oauth/token",
        )
        assert applied.saisie_keeps_number is kept
        again = await run(url, applied)

    assert fact(again, "saisie.number_kept").matches is True
    assert again.changes == {}
    assert [f.name for f in again.mismatches] == []
    # Whoever numbers SAISIE_API, the duplicate is provoked on an invoice whose number was kept.
    duplicate = fact(again, "duplicate.refusal")
    assert duplicate.matches is True
    assert duplicate.observed.startswith("saisie QUAL-" if kept else "pdf QUAL-")


@pytest.mark.parametrize(
    ("not_found", "observed"),
    [
        (True, 'HTTP 200, codeRetour 20000, libelle "La recherche n\'a retourné aucun résultat."'),
        (False, 'HTTP 200, codeRetour 0, libelle "TRA_MSG_00.000", 0 result(s)'),
    ],
)
async def test_an_empty_search_is_reported_as_the_emulator_answers_it(
    not_found: bool, observed: str
) -> None:
    with emulator(empty_search_not_found=not_found) as url:
        outcome = await run(url)
    empty = fact(outcome, "search.empty")
    assert (empty.observed, empty.matches) == (observed, True)


@pytest.mark.parametrize("status", [200, 400])
async def test_refusals_are_reported_on_the_status_the_emulator_uses(status: int) -> None:
    with emulator(refusal_http_status=status) as url:
        outcome = await run(url)
    refusal = fact(outcome, "refusal.http_status")
    assert refusal.observed.startswith(
        f"consulter/fournisseur of an unknown id: HTTP {status}, codeRetour 20000,"
    )
    assert refusal.matches is True
    assert f"HTTP {status}, codeRetour 20300," in fact(outcome, "duplicate.refusal").observed


async def test_other_codes_are_found_and_apply_writes_the_codes_that_match(
    tmp_path: Path,
) -> None:
    env_file = tmp_path / ".env"
    with emulator(code_duplicate_invoice=20999, code_search_empty=20777) as url:
        first = await run(url)
        assert first.changes == {
            "CHORUS_DUPLICATE_CODES": "20300,20999",
            "CHORUS_NO_RESULT_CODES": "20000,20777",
        }
        apply_to_env_file(env_file, first.changes)
        applied = ChorusSettings(
            _env_file=env_file, target="emulator", api_url=url, token_url=f"{url}/api/oauth/token"
        )
        again = await run(url, applied)

    assert fact(again, "duplicate.refusal").matches is True
    assert fact(again, "search.empty").matches is True
    assert again.changes == {}


async def test_behaviours_the_gateway_has_no_setting_for_are_reported_as_mismatches() -> None:
    with emulator(
        token_expires_in=1800,
        history_page_size=7,
        timezone="UTC",
        datetime_format="%d/%m/%Y %H:%M",
        code_duplicate_invoice=20999,
        code_search_empty=20777,
        flux_processing_seconds=0.5,
    ) as url:
        outcome = await run(url)

    assert fact(outcome, "token.lifetime").observed == "expires_in 1800 s"
    assert (
        fact(outcome, "history.page_size").observed
        == "7 per page (asked 100), 1 page(s), 1 status(es)"
    )
    date_format = fact(outcome, "history.date_format")
    assert date_format.observed.startswith("DD/MM/YYYY HH:MM (e.g. ")
    assert (fact(outcome, "history.time_zone").observed, date_format.matches) == ("UTC", False)
    assert "codeRetour 20999" in fact(outcome, "duplicate.refusal").observed
    assert "codeRetour 20777" in fact(outcome, "search.empty").observed
    assert {f.name for f in outcome.mismatches} == {
        "history.date_format",
        "history.time_zone",
        "duplicate.refusal",
        "search.empty",
    }
    # The dates have no setting yet: each says where the constant lives.
    assert set(outcome.changes) == {"CHORUS_DUPLICATE_CODES", "CHORUS_NO_RESULT_CODES"}
    unsettable = [f for f in outcome.mismatches if f.setting is None]
    assert {f.name for f in unsettable} == {"history.date_format", "history.time_zone"}
    assert all(f.note and "no setting" in f.note for f in unsettable)
    timing = outcome.observations.flux
    assert timing is not None
    assert timing.seconds_to_final is not None
    # The emulator integrates 0.5 s after its own deposit time; the run's clock starts a little
    # before the deposit call reaches it, never after.
    assert 0.4 <= timing.seconds_to_final < 3


async def test_a_flux_not_final_in_time_is_reported_as_unknown() -> None:
    with emulator(flux_processing_seconds=30) as url:
        outcome = await qualify(
            chorus_settings(api_url=url),
            SUPPLIER,
            ScenarioOptions(flux_wait_seconds=0.2, flux_poll_seconds=0.05),
        )
    timing = fact(outcome, "flux.integration_time")
    assert timing.observed.startswith("still IN_")
    assert timing.matches is None
    assert fact(outcome, "flux.number_kept").matches is None


async def test_the_run_creates_only_marked_invoices_and_touches_nothing_else() -> None:
    with emulator() as url:
        settings = chorus_settings(api_url=url)
        async with ChorusClient(settings) as client:
            supplier_id = await client.find_structure_id(SUPPLIER_1, SUPPLIER_SIRET)
            assert supplier_id is not None
            own = await client.submit_invoice(
                SUPPLIER_1, saisie_invoice(supplier_id, recipient=NO_FLAGS_SIRET, service=None)
            )
            async with httpx.AsyncClient(base_url=url) as control:
                before = (
                    await control.get(f"/_emulator/invoices/{own.identifiantFactureCPP}")
                ).json()
                outcome = await run(url)
                after = (
                    await control.get(f"/_emulator/invoices/{own.identifiantFactureCPP}")
                ).json()
                listed = (await control.get("/_emulator/invoices")).json()["invoices"]
                calls = (await control.get("/_emulator/stats")).json()["calls"]
            created = {i.chorus_id for i in outcome.observations.created}
            comments = {
                i.chorus_id: (await client.consult_invoice(SUPPLIER_1, i.chorus_id)).commentaire
                for i in outcome.observations.created
                if i.chorus_id is not None and i.channel != "flux"
            }

    assert after == before
    assert {i["id"] for i in listed} == created | {own.identifiantFactureCPP}
    for invoice in listed:
        if invoice["id"] != own.identifiantFactureCPP:
            assert invoice["sender_number"].startswith(PREFIX)
            assert len(invoice["sender_number"]) == 20
    assert set(comments.values()) == {NOTE}
    assert set(calls) <= HARMLESS_CALLS


async def test_wrong_piste_credentials_or_account_stop_the_run() -> None:
    stranger = TechnicalAccount(login=SUPPLIER_1.login, password=SecretStr("not-it"))
    with emulator() as url:
        with pytest.raises(QualifyError, match="PISTE refused the token"):
            await run(url, client_secret="wrong")
        with pytest.raises(QualifyError, match=f"supplier structure {SUPPLIER_SIRET} unusable"):
            await qualify(
                chorus_settings(api_url=url), QualSupplier(SUPPLIER_SIRET, stranger), FAST
            )
