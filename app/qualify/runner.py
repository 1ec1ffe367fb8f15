"""`gateway qualify` end to end: target, supplier account, scenario, table, report, `.env`."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import httpx

from app.crypto import SecretsKeyMissing, load_password_box
from app.db.engine import create_engine, create_sessionmaker
from app.domain.identifiers import normalize_siret
from app.qualify.envfile import apply_to_env_file, read_env_value
from app.qualify.facts import Assumptions, judge, setting_changes
from app.qualify.probe import QualifyError
from app.qualify.report import Qualification, render_changes, render_json, render_table
from app.qualify.scenario import QualSupplier, Scenario, ScenarioOptions
from app.settings import ChorusSettings, Settings
from app.structures import service as structures

_PRODUCTION_HOSTS = ("//oauth.piste.gouv.fr", "//api.piste.gouv.fr")


class QualifyTarget(StrEnum):
    """Where `qualify` may be pointed from the command line (production only by configuration)."""

    SANDBOX = "sandbox"
    EMULATOR = "emulator"


class ProductionRefused(QualifyError):
    """The target is production and the user did not say they know invoices will be real."""


def target_settings(chorus: ChorusSettings, target: QualifyTarget | None) -> ChorusSettings:
    """The configured Chorus settings, or another target's with that target's default URLs."""
    if target is None or target.value == chorus.target:
        return chorus
    return chorus.model_copy(update={"target": target.value, "token_url": None, "api_url": None})


def is_production(chorus: ChorusSettings) -> bool:
    """Whether calls would reach the production PISTE (by target or by URL)."""
    urls = (chorus.resolved_api_url, chorus.resolved_token_url)
    return chorus.target == "production" or any(
        host in url for url in urls for host in _PRODUCTION_HOSTS
    )


def refuse_production(chorus: ChorusSettings, *, allowed: bool) -> None:
    """Raise unless the target is not production or the user accepted real invoices."""
    if is_production(chorus) and not allowed:
        raise ProductionRefused(
            "the target is production: qualification would create real invoices. Use the "
            "sandbox (--target sandbox), or add --i-know-this-creates-real-invoices."
        )


async def load_supplier(settings: Settings, siret: str | None) -> QualSupplier:
    """The registered structure to invoice from (the only one unless `siret` picks one)."""
    engine = create_engine(settings.database)
    try:
        async with create_sessionmaker(engine)() as session:
            registered = list(await structures.list_structures(session))
    finally:
        await engine.dispose()
    if siret is not None:
        wanted = normalize_siret(siret)
        chosen = [s for s in registered if s.siret == wanted]
        if not chosen:
            raise QualifyError(f"no registered supplier structure {wanted}")
    elif len(registered) != 1:
        listed = ", ".join(s.siret for s in registered) or "none"
        raise QualifyError(
            f"choose the supplier structure with --supplier SIRET (registered: {listed})"
            if registered
            else "no supplier structure is registered: `gateway structures add` first"
        )
    else:
        chosen = registered
    structure = chosen[0]
    try:
        box = load_password_box(settings.chorus)
        account = structures.technical_account(structure, box)
    except SecretsKeyMissing as exc:
        raise QualifyError(str(exc)) from None
    return QualSupplier(
        siret=structure.siret,
        account=account,
        vat_number=structure.vat_number,
        address=structures.structure_address(structure),
    )


async def qualify(
    chorus: ChorusSettings,
    supplier: QualSupplier,
    options: ScenarioOptions,
    *,
    http: httpx.AsyncClient | None = None,
    progress: Callable[[str], None] | None = None,
) -> Qualification:
    """Run the scenario against `chorus` and judge it against those settings' assumptions."""
    if http is None:
        async with httpx.AsyncClient() as own:
            observations = await Scenario(chorus, supplier, options, own, progress=progress).run()
    else:
        observations = await Scenario(chorus, supplier, options, http, progress=progress).run()
    facts = judge(observations, Assumptions.from_settings(chorus))
    return Qualification(observations, facts, setting_changes(facts))


@dataclass(frozen=True, slots=True)
class Outputs:
    """Where the run writes: the JSON report, and the `.env` when `apply` is set."""

    report: Path
    env_file: Path
    apply: bool


def publish(qualification: Qualification, outputs: Outputs, echo: Callable[[str], None]) -> None:
    """Print the table, write the report, and show then write the settings that differ."""
    echo(render_table(qualification.facts))
    outputs.report.write_text(render_json(qualification), encoding="utf-8")
    created = ", ".join(
        i.chorus_number or i.sent_number for i in qualification.observations.created
    )
    echo("")
    echo(f"Invoices created: {created or 'none'}")
    echo(f"Report written to {outputs.report}")
    changes = qualification.changes
    if not changes:
        echo("The gateway's settings already match what Chorus did.")
        return
    text = outputs.env_file.read_text(encoding="utf-8") if outputs.env_file.exists() else ""
    current = {key: read_env_value(text, key) for key in changes}
    echo(f"Settings that would match this Chorus ({outputs.env_file}):")
    echo(render_changes(changes, current))
    if not outputs.apply:
        echo("Run again with --apply to write them.")
        return
    apply_to_env_file(outputs.env_file, changes)
    echo(f"Written to {outputs.env_file}.")
    overridden = [key for key in changes if key in os.environ]
    if overridden:
        echo(
            f"Warning: {', '.join(overridden)} also set in the environment, which wins over "
            f"{outputs.env_file}."
        )
