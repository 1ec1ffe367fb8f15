"""`gateway healthcheck`: is the process this container runs healthy, whatever its role?

One image runs the API, the worker or the emulator; Docker's HEALTHCHECK runs one command for
all of them. The command reads what PID 1 runs (`/proc/1/cmdline`) and probes that: the API's
readiness on its port, the worker's heartbeat in the database, the emulator's port.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.db.base import utc_now
from app.db.engine import create_engine, create_sessionmaker
from app.outbox.models import WorkerHeartbeat
from app.settings import Settings

PROC_CMDLINE = Path("/proc/1/cmdline")
# How many missed heartbeats make a worker dead (the same rule as /health).
MISSED_BEATS = 3


class Role(StrEnum):
    """What a gateway process does."""

    API = "api"
    WORKER = "worker"
    EMULATOR = "emulator"


# The `gateway` subcommand each role runs under (`run` serves the API too).
_COMMANDS = {"serve": Role.API, "run": Role.API, "worker": Role.WORKER, "emulator": Role.EMULATOR}
_ANY_ADDRESS = {"", "0.0.0.0", "::", "[::]"}  # noqa: S104 - recognized, not bound


@dataclass(frozen=True, slots=True)
class Target:
    """The process to probe: its role and the options it was started with."""

    role: Role
    host: str | None = None
    port: int | None = None
    worker_id: str | None = None


def _subcommand(argv: list[str]) -> str | None:
    for position, arg in enumerate(argv[:-1]):
        if Path(arg).name == "gateway" or (arg == "-m" and argv[position + 1] == "app"):
            rest = argv[position + (1 if arg != "-m" else 2) :]
            return rest[0] if rest else None
    return None


def detect(argv: list[str]) -> Target | None:
    """The target described by a `gateway ...`/`python -m app ...` command line, if any."""
    role = _COMMANDS.get(_subcommand(argv) or "")
    if role is None:
        return None
    options: dict[str, str] = {}
    for position, arg in enumerate(argv):
        name, equals, value = arg.partition("=")
        if name in ("--host", "--port", "--id"):
            if equals:
                options[name] = value
            elif position + 1 < len(argv):
                options[name] = argv[position + 1]
    port = options.get("--port")
    return Target(
        role=role,
        host=options.get("--host"),
        port=int(port) if port and port.isdigit() else None,
        worker_id=options.get("--id"),
    )


def container_target(cmdline: Path = PROC_CMDLINE) -> Target | None:
    """What PID 1 runs, or None when that cannot be read (not Linux, not a container)."""
    try:
        argv = cmdline.read_bytes().split(b"\0")
    except OSError:
        return None
    return detect([arg.decode(errors="replace") for arg in argv if arg])


def _local(host: str) -> str:
    return "127.0.0.1" if host in _ANY_ADDRESS else host


def probe_http(url: str, timeout: float) -> str | None:
    """None when `url` answers 200, else why not."""
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        return f"{url}: {type(exc).__name__}"
    if response.status_code != 200:
        return f"{url}: HTTP {response.status_code}"
    return None


def probe_api(target: Target, settings: Settings, timeout: float) -> str | None:
    """The API answers /health/ready with 200 (database reachable, schema at head)."""
    host = _local(target.host or settings.api.host)
    return probe_http(f"http://{host}:{target.port or settings.api.port}/health/ready", timeout)


def probe_emulator(target: Target, host: str, port: int, timeout: float) -> str | None:
    """The emulator serves its control API."""
    url = f"http://{_local(target.host or host)}:{target.port or port}/_emulator/stats"
    return probe_http(url, timeout)


async def probe_worker(
    target: Target, settings: Settings, hostname: str | None = None
) -> str | None:
    """A worker of this host (or the one named `--id`) recorded a heartbeat lately.

    Container hostnames are unique per container, so "this host" is "this container".
    """
    window = settings.outbox.heartbeat_seconds * MISSED_BEATS
    fresh_after = utc_now() - timedelta(seconds=window)
    query = select(WorkerHeartbeat.id).where(
        WorkerHeartbeat.stopped_at.is_(None), WorkerHeartbeat.seen_at >= fresh_after
    )
    if target.worker_id:
        query = query.where(WorkerHeartbeat.id == target.worker_id)
        who = f"worker {target.worker_id}"
    else:
        host = hostname or socket.gethostname()
        query = query.where(WorkerHeartbeat.hostname == host)
        who = f"a worker on {host}"
    engine = create_engine(settings.database)
    try:
        async with create_sessionmaker(engine)() as session:
            seen = await session.scalar(query.limit(1))
    except (SQLAlchemyError, OSError) as exc:
        return f"database: {type(exc).__name__}"
    finally:
        await engine.dispose()
    if seen is None:
        return f"no heartbeat from {who} within {window:.0f} s"
    return None
