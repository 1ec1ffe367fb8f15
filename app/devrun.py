"""`gateway run`: the whole product in one command on the embedded defaults.

It starts the emulator (when it is the target), registers the emulator's demo suppliers and
their technical accounts, issues a development API key, starts a worker, and serves the API;
stopping it (Ctrl-C, or SIGTERM to it alone) stops them all. The emulator keeps its state beside
a SQLite database file, so a restart keeps both sides of every invoice.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from app.auth.scopes import Scope
from app.auth.service import create_or_rotate_client
from app.crypto import load_password_box
from app.db.engine import create_engine, create_sessionmaker
from app.domain.identifiers import french_vat_number
from app.domain.invoice import Address
from app.logging import configure_logging
from app.settings import Settings
from app.structures.models import SupplierStructure
from app.structures.service import add_structure

DEV_CLIENT_NAME = "dev"
EMULATOR_STATE_NAME = "emulator-state.json"
# Status polling fast enough to watch the emulated lifecycle move, unless set otherwise.
DEMO_WORKER_ENV = {"OUTBOX_SYNC_FIRST_DELAY_SECONDS": "5", "OUTBOX_SYNC_MAX_DELAY_SECONDS": "20"}


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """A supplier of the emulator's directory and its technical account."""

    siret: str
    name: str
    login: str
    password: str
    postal_code: str | None = None
    city: str | None = None


def demo_accounts(directory_file: Path) -> list[DemoAccount]:
    """The suppliers with technical accounts in the emulator's directory file."""
    structures = json.loads(directory_file.read_text(encoding="utf-8"))["structures"]
    return [
        DemoAccount(
            siret=entry["identifier"],
            name=entry.get("designation", ""),
            login=entry["technical_account"]["login"],
            password=entry["technical_account"]["password"],
            postal_code=entry.get("postal_code"),
            city=entry.get("city"),
        )
        for entry in structures
        if entry.get("technical_account")
    ]


async def prepare(settings: Settings, accounts: list[DemoAccount]) -> str:
    """Register the demo structures (once) and issue the development key."""
    engine = create_engine(settings.database)
    box = load_password_box(settings.chorus)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            for account in accounts:
                if await session.get(SupplierStructure, account.siret) is None:
                    await add_structure(
                        session,
                        box,
                        siret=account.siret,
                        login=account.login,
                        password=SecretStr(account.password),
                        # What an EN 16931 document (the default channel) needs of the seller.
                        address=Address(
                            postal_code=account.postal_code, city=account.city, country_code="FR"
                        ),
                        vat_number=french_vat_number(account.siret[:9]),
                    )
            return await create_or_rotate_client(
                session,
                name=DEV_CLIENT_NAME,
                scopes=list(Scope),
                supplier_sirets=[account.siret for account in accounts],
            )
    finally:
        await engine.dispose()


class StartFailure(RuntimeError):
    """Something `gateway run` needs is missing (a port is taken): said plainly, no traceback."""


class _Terminated(Exception):
    """SIGTERM arrived: stop everything, as Ctrl-C does."""


def _raise_terminated(_signum: int, _frame: FrameType | None) -> None:
    raise _Terminated


def emulator_state_file(database_url: str) -> Path | None:
    """Where the emulator keeps its state in the one-command run: beside a SQLite file."""
    url = make_url(database_url)
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database).with_name(EMULATOR_STATE_NAME)


def _spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own command with fixed arguments
        [sys.executable, "-m", "app", *args], env={**os.environ, **(env or {})}
    )


def _wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StartFailure(f"the process serving {url} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1.0)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        if process.poll() is not None:  # it failed, and something else answered on its port
            raise StartFailure(f"the process serving {url} exited with {process.returncode}")
        return
    raise StartFailure(f"{url} did not come up within {seconds:.0f} s")


PORT_HINTS = {"API": "--port or API_PORT", "emulator": "CHORUS_API_URL and CHORUS_TOKEN_URL"}


def claim_port(role: str, host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) for `role`, or StartFailure saying what to do."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    # As uvicorn binds: a port left in TIME_WAIT by a run just stopped is free again.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartFailure(
                f"the {role} port {port} on {host} is already in use: is another `gateway run` "
                f"still running? Stop it, or choose another port ({PORT_HINTS[role]})."
            ) from None
        raise StartFailure(
            f"cannot listen on {host}:{port} for the {role}: {exc.strerror}"
        ) from None
    return sock


def run_everything(settings: Settings, *, host: str, port: int) -> None:
    """Emulator (if targeted), worker and API together until Ctrl-C or SIGTERM stops them all.

    A taken port ends it before anything starts, with a message and exit status 1.
    """
    configure_logging(settings.log)
    # uvicorn re-raises the SIGTERM it handled once the API stopped; by default that would kill
    # this process on the spot and leave the emulator and the worker running.
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        _run(settings, host, port)
    except StartFailure as exc:
        print(f"gateway run: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    except (_Terminated, KeyboardInterrupt):
        pass  # a requested stop, and everything is stopped: a clean exit
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from app.emulator.settings import EmulatorSettings

    # Bound here and handed to uvicorn: nothing starts, and no banner shows, on a taken port.
    api_socket = claim_port("API", host, port)
    children: list[subprocess.Popen[bytes]] = []
    try:
        accounts: list[DemoAccount] = []
        emulator_url = settings.chorus.resolved_api_url
        chorus = f"{settings.chorus.target} at {emulator_url}"
        if settings.chorus.target == "emulator":
            emulator = EmulatorSettings()
            emulator_port = urlsplit(emulator_url).port or 8090
            claim_port("emulator", emulator.host, emulator_port).close()
            # Kept beside the database, so a restart keeps Chorus's side of the invoices too.
            state_file = emulator.state_file or emulator_state_file(settings.database.url)
            children.append(
                _spawn(
                    "emulator",
                    "--port",
                    str(emulator_port),
                    env={"EMULATOR_STATE_FILE": str(state_file)} if state_file else None,
                )
            )
            _wait_until_up(f"{emulator_url}/_emulator/stats", children[-1])
            accounts = demo_accounts(emulator.resolved_directory_file)
            if state_file:
                chorus += f"  (state: {state_file})"
        key = asyncio.run(prepare(settings, accounts))
        worker_env = {
            name: value for name, value in DEMO_WORKER_ENV.items() if name not in os.environ
        }
        children.append(_spawn("worker", env=worker_env))
        suppliers = ", ".join(a.siret for a in accounts) or "(add one: gateway structures add)"
        print(
            f"\nChorus Pro Gateway\n"
            f"  API       http://{host}:{port}  (docs: /docs, health: /health)\n"
            f"  Chorus    {chorus}\n"
            f"  database  {make_url(settings.database.url).render_as_string(hide_password=True)}\n"
            f"  suppliers {suppliers}\n"
            f"  API key   {key}   (client '{DEV_CLIENT_NAME}', all scopes; new at each start)\n",
            flush=True,
        )
        server = uvicorn.Server(
            uvicorn.Config(
                "app.main:create_app",
                factory=True,
                host=host,
                port=port,
                log_level=settings.log.level.lower(),
                log_config=None,  # the app's own JSON lines (app.logging)
            )
        )
        server.run(sockets=[api_socket])
        if not server.started:
            raise StartFailure("the API did not start (its error is logged above)")
    finally:
        _stop(children)
        api_socket.close()


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    # A second Ctrl-C or SIGTERM must not cut this short and leave a child running.
    previous = (
        signal.signal(signal.SIGINT, signal.SIG_IGN),
        signal.signal(signal.SIGTERM, signal.SIG_IGN),
    )
    try:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
