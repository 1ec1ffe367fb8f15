"""`gateway run`: the whole product in one command on the embedded defaults.

It starts the emulator (when it is the target), registers the emulator's demo suppliers and
their technical accounts, issues a development API key, starts a worker, and serves the API;
stopping it (Ctrl-C) stops them all.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from app.auth.scopes import Scope
from app.auth.service import create_or_rotate_client
from app.db.engine import create_engine, create_sessionmaker
from app.settings import Settings
from app.structures.crypto import load_password_box
from app.structures.models import SupplierStructure
from app.structures.service import add_structure

DEV_CLIENT_NAME = "dev"
# Status polling fast enough to watch the emulated lifecycle move, unless set otherwise.
DEMO_WORKER_ENV = {"OUTBOX_SYNC_FIRST_DELAY_SECONDS": "5", "OUTBOX_SYNC_MAX_DELAY_SECONDS": "20"}


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """A supplier of the emulator's directory and its technical account."""

    siret: str
    name: str
    login: str
    password: str


def demo_accounts(directory_file: Path) -> list[DemoAccount]:
    """The suppliers with technical accounts in the emulator's directory file."""
    structures = json.loads(directory_file.read_text(encoding="utf-8"))["structures"]
    return [
        DemoAccount(
            siret=entry["identifier"],
            name=entry.get("designation", ""),
            login=entry["technical_account"]["login"],
            password=entry["technical_account"]["password"],
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
                    )
            return await create_or_rotate_client(
                session,
                name=DEV_CLIENT_NAME,
                scopes=list(Scope),
                supplier_sirets=[account.siret for account in accounts],
            )
    finally:
        await engine.dispose()


def _spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own command with fixed arguments
        [sys.executable, "-m", "app", *args], env={**os.environ, **(env or {})}
    )


def _wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the process serving {url} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {seconds:.0f} s")


def run_everything(settings: Settings, *, host: str, port: int) -> None:
    """Emulator (if targeted), worker and API together until interrupted."""
    import uvicorn

    from app.emulator.config import EmulatorConfig

    children: list[subprocess.Popen[bytes]] = []
    try:
        accounts: list[DemoAccount] = []
        emulator_url = settings.chorus.resolved_api_url
        if settings.chorus.target == "emulator":
            emulator_port = str(urlsplit(emulator_url).port or 8090)
            children.append(_spawn("emulator", "--port", emulator_port))
            _wait_until_up(f"{emulator_url}/_emulator/stats", children[-1])
            accounts = demo_accounts(EmulatorConfig().resolved_directory_file)
        key = asyncio.run(prepare(settings, accounts))
        worker_env = {
            name: value for name, value in DEMO_WORKER_ENV.items() if name not in os.environ
        }
        children.append(_spawn("worker", env=worker_env))
        suppliers = ", ".join(a.siret for a in accounts) or "(add one: gateway structures add)"
        print(
            f"\nChorus Pro Gateway\n"
            f"  API       http://{host}:{port}  (docs: /docs, health: /health)\n"
            f"  Chorus    {settings.chorus.target} at {emulator_url}\n"
            f"  database  {settings.database.url}\n"
            f"  suppliers {suppliers}\n"
            f"  API key   {key}   (client '{DEV_CLIENT_NAME}', all scopes; new at each start)\n",
            flush=True,
        )
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=host,
            port=port,
            log_level=settings.log.level.lower(),
        )
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
