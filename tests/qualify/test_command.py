"""The `gateway qualify` command: settings from the environment, the supplier's account from the
database, the table, the JSON report and `--apply`; production refused without the flag."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from app.cli import cli
from app.emulator.main import create_emulator_app
from app.emulator.settings import EmulatorSettings
from app.settings import get_settings
from tests.builders import SUPPLIER_SIRET
from tests.conftest import TEST_SECRETS_KEY
from tests.support.servers import serve_app


@pytest.fixture
def command_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> Iterator[Path]:
    """A working directory with no `.env`, the test database, settings read afresh."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CHORUS_SECRETS_KEY", TEST_SECRETS_KEY.get_secret_value())
    monkeypatch.setenv("CHORUS_FLUX_POLL_FIRST_SECONDS", "0.05")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["qualify", *args], catch_exceptions=False)


@pytest.mark.usefixtures("registered_suppliers")
async def test_qualify_prints_the_facts_writes_the_report_and_applies_the_settings(
    command_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = EmulatorSettings(
        _env_file=None,
        lifecycle_mode="manual",
        saisie_numbering="sender",
        flux_processing_seconds=0.1,
    )
    env_file = command_env / "gateway.env"
    env_file.write_text("API_PORT=8000\n")
    with serve_app(create_emulator_app(config)) as url:
        monkeypatch.setenv("CHORUS_TARGET", "emulator")
        monkeypatch.setenv("CHORUS_API_URL", url)
        monkeypatch.setenv("CHORUS_TOKEN_URL", f"{url}/api/oauth/token")
        several = await asyncio.to_thread(invoke)
        result = await asyncio.to_thread(
            invoke,
            *("--supplier", SUPPLIER_SIRET, "--report", "out.json"),
            *("--apply", "--env-file", str(env_file)),
        )

    assert several.exit_code == 1
    assert "choose the supplier structure with --supplier SIRET" in several.output
    assert result.exit_code == 0, result.output
    assert "FACT" in result.output
    assert "saisie.number_kept" in result.output
    assert "CHORUS_SAISIE_KEEPS_NUMBER=true    (now: default)" in result.output
    assert env_file.read_text() == "API_PORT=8000\nCHORUS_SAISIE_KEEPS_NUMBER=true\n"
    report = json.loads((command_env / "out.json").read_text())
    assert report["supplier_siret"] == SUPPLIER_SIRET
    assert report["settings_to_change"] == {"CHORUS_SAISIE_KEEPS_NUMBER": "true"}
    assert {f["name"] for f in report["facts"] if f["matches"] is False} == {"saisie.number_kept"}
    assert all(i["sent_number"].startswith("QUAL-") for i in report["invoices_created"])
    # Nothing secret reaches the output or the report.
    for secret in ("gateway-dev-secret", "emulator-demo-1", TEST_SECRETS_KEY.get_secret_value()):
        assert secret not in result.output
        assert secret not in (command_env / "out.json").read_text()


def test_production_is_refused_without_the_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHORUS_TARGET", "production")
    monkeypatch.setenv("CHORUS_CLIENT_ID", "real-client")
    monkeypatch.setenv("CHORUS_CLIENT_SECRET", "real-secret")
    get_settings.cache_clear()
    try:
        result = invoke()
        wrong_target = invoke("--target", "production")
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 1
    assert "the target is production" in result.output
    assert "--i-know-this-creates-real-invoices" in result.output
    assert wrong_target.exit_code == 2
    assert not list(tmp_path.iterdir())


def test_help_names_each_option_plainly() -> None:
    result = CliRunner().invoke(cli, ["qualify", "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0
    for option in (
        "--target TARGET",
        "--supplier SIRET",
        "--report FILE",
        "--apply",
        "--env-file PATH",
        "--i-know-this-creates-real-invoices",
    ):
        assert option in result.output
    assert "--no-apply" not in result.output
    assert "<bool>" not in result.output
