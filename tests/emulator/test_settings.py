"""Settings: defaults, `EMULATOR_*` variables and the shared `CHORUS_CLIENT_*` credentials."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import pytest

from app.emulator.settings import DEFAULT_DIRECTORY_FILE, EmulatorSettings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CHORUS_CLIENT_ID", "CHORUS_CLIENT_SECRET", "EMULATOR_CLIENT_ID", "EMULATOR_PORT"):
        monkeypatch.delenv(name, raising=False)


def test_the_defaults_match_the_documented_interface() -> None:
    config = EmulatorSettings(_env_file=None)

    assert (config.host, config.port) == ("127.0.0.1", 8090)
    assert config.client_id == "gateway-dev"
    assert config.client_secret.get_secret_value() == "gateway-dev-secret"
    assert config.token_expires_in == 3600
    assert config.lifecycle_mode == "auto"
    assert config.refusal_http_status == 200
    assert config.check_luhn is True
    assert config.state_file is None
    assert config.resolved_directory_file == DEFAULT_DIRECTORY_FILE
    assert (config.code_duplicate_invoice, config.code_credit_note_without_origin) == (20300, 20308)


def test_client_credentials_come_from_the_gateways_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHORUS_CLIENT_ID", "erp")
    monkeypatch.setenv("CHORUS_CLIENT_SECRET", "s3cret")

    config = EmulatorSettings(_env_file=None)

    assert config.client_id == "erp"
    assert config.client_secret.get_secret_value() == "s3cret"


def test_emulator_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EMULATOR_PORT", "9999")
    monkeypatch.setenv("EMULATOR_REFUSAL_HTTP_STATUS", "400")
    monkeypatch.setenv("EMULATOR_LIFECYCLE_MODE", "manual")
    monkeypatch.setenv("EMULATOR_STATE_FILE", str(tmp_path / "state.json"))
    monkeypatch.setenv("EMULATOR_CODE_EJ_MISSING", "29999")

    config = EmulatorSettings(_env_file=None)

    assert config.port == 9999
    assert config.refusal_http_status == 400
    assert config.lifecycle_mode == "manual"
    assert config.state_file == tmp_path / "state.json"
    assert config.code_ej_missing == 29999


def test_a_dotenv_file_is_read(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "CHORUS_CLIENT_ID=from-dotenv\nEMULATOR_CHECK_LUHN=false\n", encoding="utf-8"
    )

    config = EmulatorSettings(_env_file=env_file)

    assert config.client_id == "from-dotenv"
    assert config.check_luhn is False


@pytest.mark.parametrize(
    "overrides",
    [
        {"refusal_http_status": 500},
        {"rejected_share": 0.7, "suspended_share": 0.4},
        {"lifecycle_mode": "fast"},
        {"port": 0},
    ],
)
def test_unsafe_settings_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        EmulatorSettings(_env_file=None, **overrides)
