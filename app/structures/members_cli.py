"""`gateway structures members|requests|request|approve|refuse|attach|detach|principal|member-key|
audit`: what a structure's principal does through the API, for an operator on the host."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as clients
from app.auth.scopes import Scope
from app.cli_database import in_transaction, migrate_if_configured
from app.settings import get_settings
from app.structures import members
from app.structures.audit import COMMAND_LINE
from app.structures.membership_rules import Role, State

T = TypeVar("T")

SiretArg = Annotated[str, typer.Argument(metavar="SIRET", help="The supplier structure's SIRET.")]
ClientArg = Annotated[str, typer.Argument(metavar="CLIENT", help="The client's id or name.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON document, for scripts.")]


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """`in_transaction` with the settings of this process, migrating first if configured."""
    settings = get_settings()
    migrate_if_configured(settings)
    return in_transaction(settings, work)


def _row(attached: members.Attached) -> dict[str, object]:
    membership, client = attached.membership, attached.client
    return {
        "client_id": client.id,
        "name": client.name,
        "role": membership.role,
        "state": membership.state,
        "key_issued": membership.key_issued,
        "client_status": clients.client_status(client),
        "note": membership.note,
        "requested_at": membership.requested_at.isoformat() if membership.requested_at else None,
        "decided_at": membership.decided_at.isoformat() if membership.decided_at else None,
    }


def _table(rows: list[dict[str, object]], columns: tuple[str, ...]) -> None:
    lines = [tuple(column.upper() for column in columns)]
    lines += [tuple(str(row[column] or "-") for column in columns) for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    for line in lines:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


def _show(rows: list[dict[str, object]], as_json: bool, columns: tuple[str, ...]) -> None:
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        _table(rows, columns)


async def _client_id(session: AsyncSession, client: str) -> str:
    return (await clients.find_client(session, client)).id


def add_member_commands(structures_cli: typer.Typer) -> None:
    """Register the member verbs on `gateway structures`."""

    @structures_cli.command("members")
    def members_list(siret: SiretArg, as_json: JsonOpt = False) -> None:
        """List a structure's members (principal first)."""

        async def read(session: AsyncSession) -> list[dict[str, object]]:
            found = await members.list_members(session, members.checked_siret(siret))
            return [_row(attached) for attached in found]

        _show(_run(read), as_json, ("client_id", "name", "role", "client_status", "decided_at"))

    @structures_cli.command("requests")
    def requests_list(
        siret: SiretArg,
        refused: Annotated[
            bool, typer.Option("--refused", help="The refused requests instead of pending.")
        ] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """List a structure's attachment requests (pending by default)."""
        state = State.REFUSED if refused else State.PENDING

        async def read(session: AsyncSession) -> list[dict[str, object]]:
            found = await members.list_requests(session, members.checked_siret(siret), (state,))
            return [_row(attached) for attached in found]

        _show(_run(read), as_json, ("client_id", "name", "state", "note", "requested_at"))

    @structures_cli.command("request")
    def request(
        siret: SiretArg,
        client: ClientArg,
        note: Annotated[
            str | None, typer.Option(metavar="TEXT", help="Shown to the principal.")
        ] = None,
    ) -> None:
        """File an attachment request for a client; the structure's principal decides."""

        async def file(session: AsyncSession) -> str:
            attached, _ = await members.request_attachment(
                session,
                members.checked_siret(siret),
                await _client_id(session, client),
                COMMAND_LINE,
                note,
            )
            return attached.membership.state

        typer.echo(f"Request of {client} for {siret}: {_run(file)}.")

    @structures_cli.command("approve")
    def approve(siret: SiretArg, client: ClientArg) -> None:
        """Approve a pending attachment request (principal if the structure has none)."""
        _decide("approve", siret, client)

    @structures_cli.command("refuse")
    def refuse(siret: SiretArg, client: ClientArg) -> None:
        """Refuse a pending attachment request."""
        _decide("refuse", siret, client)

    @structures_cli.command("detach")
    def detach(siret: SiretArg, client: ClientArg) -> None:
        """Detach a member (the principal only when it is the last member)."""
        _decide("detach", siret, client)

    @structures_cli.command("principal")
    def principal(siret: SiretArg, client: ClientArg) -> None:
        """Make a client the structure's principal (attached if need be)."""
        _decide("principal", siret, client)

    @structures_cli.command("attach")
    def attach(
        siret: SiretArg,
        client: ClientArg,
        principal: Annotated[
            bool, typer.Option("--principal", help="Make it the principal.")
        ] = False,
    ) -> None:
        """Attach an existing client (the first client attached becomes principal)."""
        role = Role.PRINCIPAL if principal else Role.MEMBER

        async def apply(session: AsyncSession) -> str:
            attached, _ = await members.attach_client(
                session,
                members.checked_siret(siret),
                await _client_id(session, client),
                COMMAND_LINE,
                role,
            )
            return attached.membership.role

        typer.echo(f"{client} attached to {siret} as {_run(apply)}.")
        _cache_note()

    @structures_cli.command("member-key")
    def member_key(
        siret: SiretArg,
        name: Annotated[str, typer.Option(metavar="NAME", help="Stored as SIRET/NAME.")],
        scope: Annotated[
            list[Scope] | None,
            typer.Option(
                metavar="SCOPE", help="invoices:write and/or invoices:read (default both)."
            ),
        ] = None,
    ) -> None:
        """Create a member key for the structure and print it (shown only this once)."""

        async def create(session: AsyncSession) -> tuple[str, str]:
            attached, key, _ = await members.create_member_key(
                session,
                members.checked_siret(siret),
                COMMAND_LINE,
                name=name,
                scopes=scope or sorted(members.MEMBER_KEY_SCOPES),
            )
            return attached.client.id, key

        client_id, key = _run(create)
        typer.echo(f"Created member {client_id} of {siret}.")
        typer.echo("API key (shown once, store it now):")
        typer.echo(key)

    @structures_cli.command("audit")
    def audit(
        siret: SiretArg,
        after: Annotated[int, typer.Option(metavar="N", help="After this position.")] = 0,
        limit: Annotated[int, typer.Option(metavar="N", help="At most this many.")] = 100,
        as_json: JsonOpt = False,
    ) -> None:
        """List a structure's audit entries, oldest first."""

        async def read(session: AsyncSession) -> list[dict[str, object]]:
            entries = await members.read_audit(
                session, members.checked_siret(siret), after=after, limit=limit
            )
            return [
                {
                    "position": entry.seq,
                    "at": entry.at.astimezone(UTC).isoformat(timespec="seconds"),
                    "action": entry.action,
                    "actor": entry.actor,
                    "client_id": entry.subject_client_id,
                    "detail": entry.detail,
                }
                for entry in entries
            ]

        _show(_run(read), as_json, ("position", "at", "action", "actor", "client_id"))


def _decide(verb: str, siret: str, client: str) -> None:
    """Approve, refuse, detach or name principal, as the command line (an operator)."""

    async def apply(session: AsyncSession) -> str:
        normalized, client_id = members.checked_siret(siret), await _client_id(session, client)
        if verb == "approve":
            attached, _ = await members.approve_request(
                session, normalized, client_id, COMMAND_LINE
            )
        elif verb == "refuse":
            attached = await members.refuse_request(session, normalized, client_id, COMMAND_LINE)
        elif verb == "detach":
            attached, _ = await members.detach_member(session, normalized, client_id, COMMAND_LINE)
        else:
            attached, _ = await members.pass_principal(session, normalized, client_id, COMMAND_LINE)
        return f"{attached.membership.state}, {attached.membership.role}"

    typer.echo(f"{client} in {siret}: {_run(apply)}.")
    _cache_note()


def _cache_note() -> None:
    seconds = get_settings().api.auth_cache_seconds
    typer.echo(
        f"Running API processes apply it within API_AUTH_CACHE_SECONDS ({seconds:g} s).",
        err=True,
    )
