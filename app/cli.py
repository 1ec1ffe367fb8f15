"""The `gateway` command: run the API, migrate, manage API clients."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as clients
from app.auth.schemas import ClientOut
from app.auth.scopes import Scope
from app.cli_database import in_transaction, migrate_if_configured
from app.crypto import load_password_box, new_key
from app.db.migrations import upgrade_to_head
from app.domain.identifiers import normalize_siret
from app.domain.invoice import Address, VatRegime
from app.health import probe
from app.invoices.channels import Channel
from app.settings import Settings, get_settings
from app.structures import service as structures
from app.structures.members_cli import add_member_commands

# Plain click help (rich_markup_mode=None): rich's panels print `<bool>` for flags and cut
# long metavars such as `invoices:write` mid-word.
cli = typer.Typer(
    help="Chorus Pro Gateway.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
clients_cli = typer.Typer(
    help="API clients (ERPs and services) and their keys.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
cli.add_typer(clients_cli, name="clients")
invoices_cli = typer.Typer(
    help="Operator actions on invoices.", no_args_is_help=True, rich_markup_mode=None
)
cli.add_typer(invoices_cli, name="invoices")
structures_cli = typer.Typer(
    help="Supplier structures and their Chorus technical accounts.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
cli.add_typer(structures_cli, name="structures")
add_member_commands(structures_cli)  # members, requests, approve, detach, principal, audit...

SCOPE_NAMES = ", ".join(scope.value for scope in Scope)


@cli.command()
def migrate() -> None:
    """Bring the database schema to the latest revision."""
    settings = get_settings()
    upgrade_to_head(settings.database.url)
    typer.echo("database is at the latest revision")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(metavar="HOST", help="Default: API_HOST.")] = None,
    port: Annotated[int | None, typer.Option(metavar="PORT", help="Default: API_PORT.")] = None,
    workers: Annotated[
        int, typer.Option(metavar="N", help="Processes (PostgreSQL only for > 1).")
    ] = 1,
) -> None:
    """Run the REST API (migrating first when DATABASE_MIGRATE_ON_START is true)."""
    import uvicorn

    settings = get_settings()
    migrate_if_configured(settings)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host or settings.api.host,
        port=port or settings.api.port,
        workers=workers,
        log_level=settings.log.level.lower(),
        proxy_headers=False,
    )


@cli.command()
def run(
    host: Annotated[str | None, typer.Option(metavar="HOST", help="Default: API_HOST.")] = None,
    port: Annotated[int | None, typer.Option(metavar="PORT", help="Default: API_PORT.")] = None,
) -> None:
    """The whole product: emulator (when targeted), worker and API, with a development key."""
    from app.devrun import run_everything

    settings = get_settings()
    migrate_if_configured(settings)
    run_everything(settings, host=host or settings.api.host, port=port or settings.api.port)


@cli.command()
def worker(
    worker_id: Annotated[
        str | None, typer.Option("--id", metavar="ID", help="Default: host:pid:random.")
    ] = None,
) -> None:
    """Deliver queued invoices to Chorus Pro, follow their statuses, send webhooks."""
    from app.worker import main

    settings = get_settings()
    migrate_if_configured(settings)
    main(settings, worker_id)


@cli.command()
def emulator(
    host: Annotated[
        str | None, typer.Option(metavar="HOST", help="Default: EMULATOR_HOST.")
    ] = None,
    port: Annotated[
        int | None, typer.Option(metavar="PORT", help="Default: EMULATOR_PORT (8090).")
    ] = None,
) -> None:
    """Run the Chorus Pro emulator (PISTE OAuth + the cpro API + /_emulator control)."""
    import uvicorn

    from app.emulator.main import create_emulator_app
    from app.emulator.settings import EmulatorSettings
    from app.logging import configure_logging

    emulator_settings = EmulatorSettings()
    log = get_settings().log
    # The same JSON lines as the API and the worker: uvicorn's plain-text config stays out.
    configure_logging(log)
    uvicorn.run(
        create_emulator_app(emulator_settings),
        host=host or emulator_settings.host,
        port=port or emulator_settings.port,
        log_level=log.level.lower(),
        log_config=None,
    )


@cli.command()
def healthcheck(
    role: Annotated[
        probe.Role | None,
        typer.Option(
            metavar="ROLE",
            help="api, worker or emulator. Default: what PID 1 runs (the container's command).",
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(metavar="PORT", help="Default: the one PID 1 was given, else the setting."),
    ] = None,
    worker_id: Annotated[
        str | None,
        typer.Option("--worker-id", metavar="ID", help="Default: any worker of this host."),
    ] = None,
    timeout: Annotated[float, typer.Option(metavar="SECONDS", help="Per HTTP probe.")] = 3.0,
) -> None:
    """Exit 0 when the process this container runs is healthy, 1 otherwise (Docker HEALTHCHECK)."""
    target = probe.container_target()
    if role is not None and (target is None or target.role != role):
        target = probe.Target(role=role)
    target = replace(
        target or probe.Target(role=probe.Role.API),  # the image's default command
        port=port or (target.port if target else None),
        worker_id=worker_id or (target.worker_id if target else None),
    )
    settings = get_settings()
    if target.role is probe.Role.API:
        problem = probe.probe_api(target, settings, timeout)
    elif target.role is probe.Role.WORKER:
        problem = asyncio.run(probe.probe_worker(target, settings))
    else:
        from app.emulator.settings import EmulatorSettings

        emulator_settings = EmulatorSettings()
        problem = probe.probe_emulator(
            target, emulator_settings.host, emulator_settings.port, timeout
        )
    if problem is not None:
        typer.echo(f"{target.role}: unhealthy: {problem}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{target.role}: healthy")


@cli.command()
def openapi(
    output: Annotated[Path, typer.Option(metavar="FILE", help="Where to write the spec.")] = Path(
        "openapi/openapi.json"
    ),
) -> None:
    """Export the OpenAPI spec (CI fails when the committed copy drifts from the app)."""
    from app.main import create_app

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_openapi(create_app(Settings()).openapi()), encoding="utf-8")
    typer.echo(f"wrote {output}")


def render_openapi(spec: dict[str, object]) -> str:
    """The spec as committed: sorted keys, two-space indent, final newline."""
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@clients_cli.command("create")
def clients_create(
    name: Annotated[str, typer.Option(metavar="NAME", help="A unique name for the client.")],
    scope: Annotated[
        list[Scope],
        typer.Option(metavar="SCOPE", help=f"A scope to grant, repeatable: {SCOPE_NAMES}."),
    ],
    supplier: Annotated[
        list[str] | None,
        typer.Option(
            metavar="SIRET",
            help="A supplier SIRET the client may act for, repeatable (none for an operator).",
        ),
    ] = None,
    expires_at: Annotated[
        str | None,
        typer.Option(
            metavar="WHEN",
            help="When the key stops working, ISO 8601 (2027-01-31 or 2027-01-31T18:00+01:00;"
            " UTC when no offset is given). Default: never.",
        ),
    ] = None,
) -> None:
    """Create an API client and print its key (shown only this once)."""
    settings = get_settings()
    migrate_if_configured(settings)
    expiry = _parse_moment(expires_at) if expires_at else None

    async def create(session: AsyncSession) -> str:
        _, key = await clients.create_client(
            session, name=name, scopes=scope, supplier_sirets=supplier or [], expires_at=expiry
        )
        return key

    key = in_transaction(settings, create)
    until = f", valid until {expiry.isoformat()}" if expiry else ""
    typer.echo(f"Created client {name!r} with scopes {', '.join(scope)}{until}.")
    typer.echo("API key (shown once, store it now):")
    typer.echo(key)


@clients_cli.command("list")
def clients_list(
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON document, for scripts.")
    ] = False,
) -> None:
    """List API clients with their scopes, suppliers and status (never a key or its hash)."""
    settings = get_settings()
    migrate_if_configured(settings)

    async def read(session: AsyncSession) -> list[ClientOut]:
        return [
            ClientOut.model_validate(
                {
                    **{f: getattr(c, f) for f in ClientOut.model_fields if f != "status"},
                    "status": clients.client_status(c),
                }
            )
            for c in await clients.list_clients(session)
        ]

    listed = in_transaction(settings, read)
    if as_json:
        typer.echo(json.dumps([c.model_dump(mode="json") for c in listed], indent=2))
        return
    rows = [("ID", "NAME", "STATUS", "KEY", "SCOPES", "SUPPLIERS", "EXPIRES")]
    rows += [
        (
            c.id,
            c.name,
            c.status,
            c.key_prefix + "...",
            ",".join(c.scopes),
            ",".join(c.supplier_sirets) or "-",
            c.expires_at.isoformat(timespec="seconds") if c.expires_at else "-",
        )
        for c in listed
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


@clients_cli.command("revoke")
def clients_revoke(
    client: Annotated[str, typer.Argument(metavar="CLIENT", help="The client's id or name.")],
) -> None:
    """Revoke a client's key for good."""
    settings = get_settings()
    migrate_if_configured(settings)

    async def revoke(session: AsyncSession) -> str:
        found = await clients.revoke_client(session, await clients.find_client(session, client))
        return found.id

    client_id = in_transaction(settings, revoke)
    typer.echo(
        f"Client {client_id} revoked. Running API processes refuse its key within "
        f"API_AUTH_CACHE_SECONDS ({settings.api.auth_cache_seconds:g} s)."
    )


@clients_cli.command("rotate")
def clients_rotate(
    client: Annotated[str, typer.Argument(metavar="CLIENT", help="The client's id or name.")],
) -> None:
    """Give a client a new key (printed once); the old key stops working."""
    settings = get_settings()
    migrate_if_configured(settings)

    async def rotate(session: AsyncSession) -> tuple[str, str]:
        found, key = await clients.rotate_client(
            session, await clients.find_client(session, client)
        )
        return found.id, key

    client_id, key = in_transaction(settings, rotate)
    typer.echo(
        f"New key for client {client_id}; running API processes refuse the old one within "
        f"API_AUTH_CACHE_SECONDS ({settings.api.auth_cache_seconds:g} s)."
    )
    typer.echo("API key (shown once, store it now):")
    typer.echo(key)


def _parse_moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 date or time: {text!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@structures_cli.command("add")
def structures_add(
    siret: Annotated[str, typer.Option(metavar="SIRET", help="The supplier's SIRET.")],
    login: Annotated[str, typer.Option(metavar="LOGIN", help="The technical account's login.")],
    password_file: Annotated[
        Path,
        typer.Option(
            metavar="FILE", help="A file holding the password (kept out of shell history)."
        ),
    ],
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Replace the password of an existing one.")
    ] = False,
    vat_regime: Annotated[
        VatRegime | None,
        typer.Option(
            metavar="REGIME",
            help="The VAT regime of invoices that state none (Chorus typeTva).",
        ),
    ] = None,
    vat_exemption_reason: Annotated[
        str | None,
        typer.Option(
            metavar="TEXT", help="The exemption reason sent with 0 % lines that state none."
        ),
    ] = None,
    address_line1: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Registered address, first line.")
    ] = None,
    address_line2: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Registered address, second line.")
    ] = None,
    postal_code: Annotated[str | None, typer.Option(metavar="CODE", help="Postal code.")] = None,
    city: Annotated[str | None, typer.Option(metavar="TEXT", help="City.")] = None,
    country_code: Annotated[
        str | None, typer.Option(metavar="CC", help="Country, ISO 3166-1 alpha-2 (e.g. FR).")
    ] = None,
    vat_number: Annotated[
        str | None,
        typer.Option(metavar="VAT", help="The supplier's VAT number for invoices that state none."),
    ] = None,
    delivery_format: Annotated[
        Channel | None,
        typer.Option(help="How its invoices go to Chorus, instead of CHORUS_DELIVERY_FORMAT."),
    ] = None,
) -> None:
    """Register a supplier structure and its technical account (password stored encrypted)."""
    address = Address(address_line1, address_line2, postal_code, city, country_code)
    if rotate and (address != Address() or vat_number or delivery_format):
        # Rotation changes the account only; silently dropping the rest would mislead.
        raise typer.BadParameter(
            "--rotate changes the password only, not the address, VAT number or delivery format."
        )
    settings = get_settings()
    migrate_if_configured(settings)
    password = SecretStr(password_file.read_text(encoding="utf-8").strip())
    box = load_password_box(settings.chorus)

    async def store(session: AsyncSession) -> None:
        if rotate:
            await structures.rotate_password(
                session, box, siret=siret, password=password, login=login
            )
        else:
            await structures.add_structure(
                session,
                box,
                siret=siret,
                login=login,
                password=password,
                vat_regime=vat_regime,
                vat_exemption_reason=vat_exemption_reason,
                # The seller's address on invoices that give none (EN 16931 BG-5).
                address=address,
                vat_number=vat_number,
                delivery_format=delivery_format,
            )

    in_transaction(settings, store)
    typer.echo(f"Structure {normalize_siret(siret)} {'updated' if rotate else 'registered'}.")


@structures_cli.command("set")
def structures_set(
    siret: Annotated[str, typer.Argument(metavar="SIRET", help="The supplier's SIRET.")],
    vat_number: Annotated[
        str | None,
        typer.Option(metavar="VAT", help="VAT number for invoices that state none ('' clears)."),
    ] = None,
    delivery_format: Annotated[
        str | None,
        typer.Option(
            metavar="FORMAT",
            help="cii, ubl, facturx, pdf or saisie; 'default' follows CHORUS_DELIVERY_FORMAT.",
        ),
    ] = None,
) -> None:
    """Change a registered structure's invoice defaults; queued invoices keep their channel."""
    channel: Channel | structures.Unset | None = structures.UNSET
    if delivery_format is not None:
        if delivery_format == "default":
            channel = None
        else:
            try:
                channel = Channel(delivery_format)
            except ValueError:
                choices = ", ".join(c.value for c in Channel)
                raise typer.BadParameter(
                    f"--delivery-format: one of {choices} or default"
                ) from None
    settings = get_settings()
    migrate_if_configured(settings)

    async def store(session: AsyncSession) -> None:
        await structures.update_settings(
            session,
            siret=siret,
            vat_number=vat_number if vat_number is not None else structures.UNSET,
            delivery_format=channel,
        )

    in_transaction(settings, store)
    typer.echo(f"Structure {normalize_siret(siret)} updated.")


@invoices_cli.command("retry")
def invoices_retry(
    invoice_id: Annotated[str, typer.Argument(metavar="ID", help="The invoice id (inv_...).")],
) -> None:
    """Re-queue a failed invoice (its next attempt first searches Chorus for it)."""
    # Here, not at the top: the invoice service pulls in the document formats, seconds of
    # imports that no other command needs.
    from app.invoices.service import retry_invoice

    settings = get_settings()

    async def retry(session: AsyncSession) -> str:
        return (await retry_invoice(session, invoice_id)).status

    status = in_transaction(settings, retry)
    typer.echo(f"Invoice {invoice_id} is {status} again.")


@structures_cli.command("new-key")
def structures_new_key() -> None:
    """Print a new key for CHORUS_SECRETS_KEY (prepend it to rotate: new,old)."""
    typer.echo(new_key())


@cli.command()
def qualify(
    target: Annotated[
        str | None,
        typer.Option(metavar="TARGET", help="sandbox or emulator. Default: CHORUS_TARGET."),
    ] = None,
    supplier: Annotated[
        str | None,
        typer.Option(
            metavar="SIRET",
            help="The registered supplier structure to invoice from (needed when several are).",
        ),
    ] = None,
    report: Annotated[
        Path, typer.Option(metavar="FILE", help="Where to write the JSON report.")
    ] = Path("qualify-report.json"),
    apply: Annotated[
        bool, typer.Option("--apply", help="Write the settings that differ into the .env file.")
    ] = False,
    env_file: Annotated[
        Path, typer.Option(metavar="PATH", help="The .env file --apply writes.")
    ] = Path(".env"),
    buyer: Annotated[
        str,
        typer.Option(
            metavar="SIRET",
            help="Who the QUAL- invoices go to (by default the qualification test structure "
            "without EJ/SE flags).",
        ),
    ] = "12345678200051",
    service_code: Annotated[
        str | None, typer.Option(metavar="CODE", help="The buyer's SE, if it needs one.")
    ] = None,
    flux_wait: Annotated[
        float, typer.Option(metavar="SECONDS", help="How long to follow the CII flux.")
    ] = 600.0,
    real_invoices: Annotated[
        bool,
        typer.Option(
            "--i-know-this-creates-real-invoices",
            help="Allow a production target (the QUAL- invoices are then real).",
        ),
    ] = False,
) -> None:
    """Check what Chorus Pro really does against what the gateway assumes.

    With the configured PISTE credentials and a registered supplier's technical account, runs a
    short scenario (token, directory, a SAISIE_API, a PDF and a CII flux invoice numbered QUAL-...,
    a duplicate, an empty search, a refusal, a history), prints each fact next to the gateway's
    assumption, writes a JSON report, and with --apply writes the settings that differ.
    """
    from app.qualify import runner
    from app.qualify.invoices import Recipient
    from app.qualify.probe import QualifyError
    from app.qualify.scenario import ScenarioOptions

    if target is not None and target not in {t.value for t in runner.QualifyTarget}:
        raise typer.BadParameter("--target: sandbox or emulator")
    settings = get_settings()
    chorus = runner.target_settings(
        settings.chorus, runner.QualifyTarget(target) if target else None
    )
    options = ScenarioOptions(
        recipient=Recipient(normalize_siret(buyer), service_code),
        flux_wait_seconds=flux_wait,
        # The report is read as often as the gateway would first read it.
        flux_poll_seconds=chorus.flux_poll_first_seconds,
    )
    try:
        runner.refuse_production(chorus, allowed=real_invoices)
        migrate_if_configured(settings)
        account = asyncio.run(runner.load_supplier(settings, supplier))
        typer.echo(f"Qualifying {chorus.resolved_api_url} as supplier {account.siret}...")
        outcome = asyncio.run(
            runner.qualify(chorus, account, options, progress=lambda step: typer.echo(f"  {step}"))
        )
    except QualifyError as exc:
        typer.echo(f"qualify: {exc}", err=True)
        raise typer.Exit(1) from None
    runner.publish(outcome, runner.Outputs(report, env_file, apply), typer.echo)


def main() -> None:
    """Entry point of the `gateway` script."""
    cli()
