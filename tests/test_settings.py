"""Settings: read from the environment, refused when unsafe, and all listed in .env.example."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import AliasChoices, BaseModel, ValidationError
from pydantic_settings import BaseSettings

from app.emulator.settings import EmulatorSettings
from app.settings import ApiSettings, ChorusSettings, Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"


def _env_names(group: type[BaseSettings]) -> set[str]:
    prefix = group.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in group.model_fields}


def _emulator_env_names() -> set[str]:
    # A field shared with the gateway (CHORUS_CLIENT_*) is listed once, as its first alias.
    names: set[str] = set()
    for name, field in EmulatorSettings.model_fields.items():
        alias = field.validation_alias
        names.add(str(alias.choices[0]) if isinstance(alias, AliasChoices) else f"EMULATOR_{name}")
    return {name.upper() for name in names}


def test_env_example_lists_every_setting() -> None:
    listed = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    }
    expected: set[str] = set()
    for field in Settings.model_fields.values():
        group = field.annotation
        assert isinstance(group, type)
        assert issubclass(group, BaseModel)
        assert issubclass(group, BaseSettings)
        expected |= _env_names(group)
    expected |= _emulator_env_names()
    assert listed == expected


def test_env_example_defaults_are_the_code_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.split("=", 1)
            monkeypatch.setenv(name, value)
    from_example = Settings()
    emulator_from_example = EmulatorSettings(_env_file=None)
    monkeypatch.undo()
    assert from_example.model_dump() == Settings().model_dump()
    assert emulator_from_example.model_dump() == EmulatorSettings(_env_file=None).model_dump()


def test_lists_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_ALLOWED_BUYER_SIRETS", "11000201100044, 12345678200051")
    monkeypatch.setenv("API_ALLOWED_VAT_RATES", "20,5.5")
    api = ApiSettings()
    assert api.allowed_buyer_sirets == ["11000201100044", "12345678200051"]
    assert api.allowed_vat_rates == [Decimal("20"), Decimal("5.5")]


def test_production_without_credentials_is_refused() -> None:
    with pytest.raises(ValidationError, match="needs CHORUS_CLIENT_ID"):
        ChorusSettings(target="production")


def test_production_with_a_sandbox_url_is_refused() -> None:
    with pytest.raises(ValidationError, match="sandbox"):
        ChorusSettings(
            target="production",
            client_id="real",
            client_secret="real-secret",
            api_url="https://sandbox-api.piste.gouv.fr",
        )


def test_a_production_token_url_with_a_sandbox_api_url_is_refused() -> None:
    with pytest.raises(ValidationError, match="different environments"):
        ChorusSettings(target="sandbox", token_url="https://oauth.piste.gouv.fr/api/oauth/token")


def test_targets_have_their_default_urls() -> None:
    assert ChorusSettings(target="sandbox").resolved_api_url == "https://sandbox-api.piste.gouv.fr"
    production = ChorusSettings(target="production", client_id="id", client_secret="secret")
    assert production.resolved_token_url == "https://oauth.piste.gouv.fr/api/oauth/token"
    assert ChorusSettings().resolved_api_url.startswith("http://127.0.0.1")


def test_the_client_secret_never_shows_in_a_repr() -> None:
    assert "gateway-dev-secret" not in repr(Settings())
