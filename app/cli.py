"""The `gateway` command: run the API, migrate, manage API clients."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr

from app.auth.scopes import Scope
from app.auth.service import create_client
from app.db.engine import create_engine, create_sessionmaker
from app.db.migrations import upgrade_to_head
from app.domain.identifiers import normalize_siret
from app.errors import GatewayError
from app.invoices.service import retry_invoice
from app.settings import Settings, get_settings
from app.structures import service as structures
from app.structures.crypto import load_password_box, new_key

cli = typer.Typer(
    help="Chorus Pro Gateway.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
clients_cli = typer.Typer(
    help="API clients (ERPs and services) and their keys.", no_args_is_help=True
)
cli.add_typer(clients_cli, name="clients")
invoices_cli = typer.Typer(help="Operator actions on invoices.", no_args_is_help=True)
cli.add_typer(invoices_cli, name="invoices")
structures_cli = typer.Typer(
    help="Supplier structures and their Chorus technical accounts.", no_args_is_help=True
)
cli.add_typer(structures_cli, name="structures")


@cli.command()
def migrate() -> None:
    """Bring the database schema to the latest revision."""
    settings = get_settings()
    upgrade_to_head(settings.database.url)
    typer.echo("database is at the latest revision")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: API_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: API_PORT.")] = None,
    workers: Annotated[int, typer.Option(help="Processes (PostgreSQL only for > 1).")] = 1,
) -> None:
    """Run the REST API (migrating first when DATABASE_MIGRATE_ON_START is true)."""
    import uvicorn

    settings = get_settings()
    _migrate_if_configured(settings)
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
    host: Annotated[str | None, typer.Option(help="Default: API_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: API_PORT.")] = None,
) -> None:
    """The whole product: emulator (when targeted), worker and API, with a development key."""
    from app.devrun import run_everything

    settings = get_settings()
    _migrate_if_configured(settings)
    run_everything(settings, host=host or settings.api.host, port=port or settings.api.port)


@cli.command()
def worker(
    worker_id: Annotated[str | None, typer.Option("--id", help="Default: host:pid:random.")] = None,
) -> None:
    """Deliver queued invoices to Chorus Pro, follow their statuses, send webhooks."""
    from app.worker import run_worker

    settings = get_settings()
    _migrate_if_configured(settings)
    asyncio.run(run_worker(settings, worker_id))


@cli.command()
def emulator(
    host: Annotated[str | None, typer.Option(help="Default: EMULATOR_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: EMULATOR_PORT (8090).")] = None,
) -> None:
    """Run the Chorus Pro emulator (PISTE OAuth + the cpro API + /_emulator control)."""
    import uvicorn

    from app.emulator.app import create_emulator_app
    from app.emulator.config import EmulatorConfig

    config = EmulatorConfig()
    uvicorn.run(
        create_emulator_app(config),
        host=host or config.host,
        port=port or config.port,
        log_level=get_settings().log.level.lower(),
    )


@cli.command()
def openapi(
    output: Annotated[Path, typer.Option(help="Where to write the spec.")] = Path(
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
    name: Annotated[str, typer.Option(help="A unique name for the client.")],
    supplier: Annotated[
        list[str], typer.Option(help="A supplier SIRET the client may act for (repeatable).")
    ],
    scope: Annotated[list[Scope], typer.Option(help="A scope to grant (repeatable).")],
) -> None:
    """Create an API client and print its key (shown only this once)."""

    settings = get_settings()
    _migrate_if_configured(settings)

    async def create() -> str:
        engine = create_engine(settings.database)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                _, key = await create_client(
                    session, name=name, scopes=scope, supplier_sirets=supplier
                )
        finally:
            await engine.dispose()
        return key

    try:
        key = asyncio.run(create())
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(f"Created client {name!r} with scopes {', '.join(scope)}.")
    typer.echo("API key (shown once, store it now):")
    typer.echo(key)


@structures_cli.command("add")
def structures_add(
    siret: Annotated[str, typer.Option(help="The supplier's SIRET.")],
    login: Annotated[str, typer.Option(help="The technical account's login.")],
    password_file: Annotated[
        Path, typer.Option(help="A file holding the password (kept out of shell history).")
    ],
    rotate: Annotated[bool, typer.Option(help="Replace the password of an existing one.")] = False,
) -> None:
    """Register a supplier structure and its technical account (password stored encrypted)."""
    settings = get_settings()
    _migrate_if_configured(settings)
    password = SecretStr(password_file.read_text(encoding="utf-8").strip())
    box = load_password_box(settings.chorus)

    async def store() -> None:
        engine = create_engine(settings.database)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                if rotate:
                    await structures.rotate_password(
                        session, box, siret=siret, password=password, login=login
                    )
                else:
                    await structures.add_structure(
                        session, box, siret=siret, login=login, password=password
                    )
        finally:
            await engine.dispose()

    try:
        asyncio.run(store())
    except GatewayError as exc:
        raise typer.BadParameter(exc.detail or exc.title) from exc
    typer.echo(f"Structure {normalize_siret(siret)} {'updated' if rotate else 'registered'}.")


@invoices_cli.command("retry")
def invoices_retry(
    invoice_id: Annotated[str, typer.Argument(help="The invoice id (inv_...).")],
) -> None:
    """Re-queue a failed invoice (its next attempt first searches Chorus for it)."""
    settings = get_settings()

    async def retry() -> str:
        engine = create_engine(settings.database)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                return (await retry_invoice(session, invoice_id)).status
        finally:
            await engine.dispose()

    try:
        status = asyncio.run(retry())
    except GatewayError as exc:
        raise typer.BadParameter(exc.detail or exc.title) from exc
    typer.echo(f"Invoice {invoice_id} is {status} again.")


@structures_cli.command("new-key")
def structures_new_key() -> None:
    """Print a new key for CHORUS_SECRETS_KEY (prepend it to rotate: new,old)."""
    typer.echo(new_key())


def _migrate_if_configured(settings: Settings) -> None:
    """Commands that use the database bring it to head first (DATABASE_MIGRATE_ON_START)."""
    if settings.database.migrate_on_start:
        upgrade_to_head(settings.database.url)


def main() -> None:
    """Entry point of the `gateway` script."""
    cli()
