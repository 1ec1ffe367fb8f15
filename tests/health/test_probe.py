"""`gateway healthcheck`: one command for every role the image runs, as Docker calls it."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.health.probe import Role, Target, detect
from app.main import create_app
from app.outbox.worker import Worker
from app.settings import OutboxSettings, Settings
from tests.support.servers import free_port, serve_app

ROOT = Path(__file__).resolve().parents[2]
Healthcheck = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def healthcheck(database_url: str) -> Healthcheck:
    """`gateway healthcheck ARGS` in its own process, as the container's HEALTHCHECK runs it."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own command, fixed arguments
            [sys.executable, "-m", "app", "healthcheck", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": database_url},
        )

    return run


def _port(url: str) -> str:
    return str(urlsplit(url).port)


@pytest.mark.usefixtures("engine")
def test_the_api_role_is_healthy_when_ready_on_its_port(
    settings: Settings, healthcheck: Healthcheck
) -> None:
    with serve_app(create_app(settings)) as url:
        healthy = healthcheck("--role", "api", "--port", _port(url))
    assert healthy.returncode == 0, healthy.stderr
    down = healthcheck("--role", "api", "--port", str(free_port()))
    assert down.returncode == 1
    assert "unhealthy" in down.stderr


def test_the_emulator_role_is_healthy_when_its_port_answers(
    served_emulator: str, healthcheck: Healthcheck
) -> None:
    healthy = healthcheck("--role", "emulator", "--port", _port(served_emulator))
    assert healthy.returncode == 0, healthy.stderr
    assert healthcheck("--role", "emulator", "--port", str(free_port())).returncode == 1


async def test_the_worker_role_is_healthy_while_its_heartbeat_is_fresh(
    sessionmaker: async_sessionmaker[AsyncSession], healthcheck: Healthcheck
) -> None:
    assert (await asyncio.to_thread(healthcheck, "--role", "worker")).returncode == 1
    worker = Worker(
        sessionmaker=sessionmaker,
        handlers={},
        settings=OutboxSettings(poll_interval_seconds=0.05, heartbeat_seconds=0.2),
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.sleep(0.3)
        alive = await asyncio.to_thread(healthcheck, "--role", "worker")
        named = await asyncio.to_thread(healthcheck, "--role", "worker", "--worker-id", "nobody")
    finally:
        stop.set()
        await running
    assert alive.returncode == 0, alive.stderr
    assert named.returncode == 1
    stopped = await asyncio.to_thread(healthcheck, "--role", "worker")
    assert stopped.returncode == 1
    assert "no heartbeat" in stopped.stderr


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        (["python", "-m", "app"], None),
        (["python", "-m", "app", "serve"], Target(Role.API)),
        (["/opt/venv/bin/gateway", "serve", "--port", "9000"], Target(Role.API, port=9000)),
        (["python", "-m", "app", "worker", "--id", "w1"], Target(Role.WORKER, worker_id="w1")),
        (["python", "-m", "app", "emulator", "--port=8091"], Target(Role.EMULATOR, port=8091)),
        (["python", "-m", "app", "migrate"], None),
        (["/sbin/init", "run"], None),
    ],
)
def test_the_role_is_read_from_the_containers_command_line(
    cmdline: list[str], expected: Target | None
) -> None:
    assert detect(cmdline) == expected


def test_the_image_healthcheck_runs_the_command_and_keeps_the_key_out_of_the_data_volume() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    healthcheck = dockerfile[dockerfile.index("HEALTHCHECK") :].split("\n")[:2]
    assert '"healthcheck"' in " ".join(healthcheck)
    assert "8000" not in " ".join(healthcheck)
    volumes = re.findall(r'^VOLUME \["([^"]+)"\]', dockerfile, flags=re.MULTILINE)
    database = re.search(r"DATABASE_URL=sqlite\+aiosqlite:///(\S+)", dockerfile)
    key_file = re.search(r"CHORUS_SECRETS_KEY_FILE=(\S+)", dockerfile)
    assert database is not None
    assert key_file is not None
    database_volume = next(v for v in volumes if database.group(1).startswith(v + "/"))
    assert not key_file.group(1).startswith(database_volume + "/")
