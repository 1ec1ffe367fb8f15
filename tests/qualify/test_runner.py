"""Choosing the target: another target's default URLs, and production told by target or URL."""

from __future__ import annotations

import pytest

from app.qualify.probe import QualifyError
from app.qualify.runner import QualifyTarget, is_production, refuse_production, target_settings
from app.settings import SANDBOX_API_URL, SANDBOX_OAUTH_URL
from tests.chorus.builders import chorus_settings


def test_another_target_uses_its_own_default_urls() -> None:
    configured = chorus_settings(api_url="http://127.0.0.1:9999")
    sandbox = target_settings(configured, QualifyTarget.SANDBOX)
    assert (sandbox.target, sandbox.resolved_api_url, sandbox.resolved_token_url) == (
        "sandbox",
        SANDBOX_API_URL,
        SANDBOX_OAUTH_URL,
    )
    assert target_settings(configured, QualifyTarget.EMULATOR) is configured
    assert target_settings(configured, None) is configured


@pytest.mark.parametrize(
    ("api_url", "production"),
    [
        ("https://api.piste.gouv.fr", True),
        ("https://sandbox-api.piste.gouv.fr", False),
        ("http://127.0.0.1:8090", False),
    ],
)
def test_production_is_told_by_its_urls_too(api_url: str, production: bool) -> None:
    settings = chorus_settings(api_url=api_url, token_url=api_url.replace("api.", "oauth.", 1))
    assert is_production(settings) is production
    if production:
        with pytest.raises(QualifyError, match="real invoices"):
            refuse_production(settings, allowed=False)
    refuse_production(settings, allowed=True)
