"""`gateway run`: the whole product from one command, as a new user starts it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy.engine import make_url

from app.devrun import emulator_state_file
from app.emulator.main import create_emulator_app
from app.emulator.settings import EmulatorSettings
from tests.builders import invoice_payload
from tests.support.servers import free_port, serve_app

ROOT = Path(__file__).resolve().parents[1]


def _env(api_port: int, emulator_port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "API_PORT": str(api_port),
        "CHORUS_TOKEN_URL": f"http://127.0.0.1:{emulator_port}/api/oauth/token",
        "CHORUS_API_URL": f"http://127.0.0.1:{emulator_port}",
        "OUTBOX_POLL_INTERVAL_SECONDS": "0.1",
        "PYTHONPATH": str(ROOT),
        **extra,
    }


def _start(
    cwd: Path, env: dict[str, str], *, stderr: int = subprocess.PIPE
) -> subprocess.Popen[str]:
    """`gateway run`; a test that reads no stderr drops it (DEVNULL): a full pipe would stall it."""
    return subprocess.Popen(
        [sys.executable, "-m", "app", "run"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        start_new_session=True,
    )


def _read_banner(process: subprocess.Popen[str], deadline: float) -> str:
    """What the process prints up to its API key line, or until it exits or `deadline` passes."""
    assert process.stdout is not None
    banner = ""
    while "API key" not in banner and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        banner += line
    return banner


def _interrupt(process: subprocess.Popen[str]) -> None:
    """Stop the process as a user does (Ctrl-C), wait for it, close its output."""
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=30)
    if process.stdout is not None:
        process.stdout.close()


class _Output:
    """Everything a process writes to a pipe, read in the background so the pipe never fills."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._stream = stream
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:
            self.lines.append(line)

    def close(self) -> None:
        """Once the writers are gone: read what is left and close the pipe."""
        self._thread.join(timeout=10)
        self._stream.close()

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, needle: str, seconds: float) -> str:
        deadline = time.monotonic() + seconds
        while needle not in self.text and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.text


def _children(pid: int) -> dict[int, str]:
    """The live child processes of `pid` with their command lines (Linux /proc)."""
    found: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
                found[int(stat.parent.name)] = cmdline.decode()
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_one_command_runs_api_worker_and_emulator_and_delivers(tmp_path: Path) -> None:
    api_port, emulator_port = free_port(), free_port()
    process = _start(tmp_path, _env(api_port, emulator_port), stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        banner = _read_banner(process, deadline)
        match = re.search(r"API key\s+(cpg_\S+)", banner)
        assert match, banner
        headers = {"Authorization": f"Bearer {match.group(1)}"}
        base = f"http://127.0.0.1:{api_port}"
        created = None
        while created is None and time.monotonic() < deadline:
            try:
                created = httpx.post(f"{base}/v1/invoices", json=invoice_payload(), headers=headers)
            except httpx.TransportError:
                time.sleep(0.2)
        assert created is not None
        assert created.status_code == 201, created.text
        status = created.json()["status"]
        while status == "queued" and time.monotonic() < deadline:
            time.sleep(0.2)
            status = httpx.get(f"{base}{created.headers['location']}", headers=headers).json()[
                "status"
            ]
        assert status in {"submitted", "paid"}
        truth = httpx.get(f"http://127.0.0.1:{emulator_port}/_emulator/invoices").json()
        assert truth["total"] == 1
    finally:
        _interrupt(process)
    assert (tmp_path / "gateway.db").exists()
    leftovers = subprocess.run(  # noqa: S603
        ["pgrep", "-f", f"--port {emulator_port}"],  # noqa: S607
        capture_output=True,
        check=False,
    )
    assert leftovers.stdout == b""


@pytest.mark.usefixtures("engine")
def test_run_prints_the_database_url_without_its_password(
    database_url: str, backend: str, tmp_path: Path
) -> None:
    if backend != "postgresql":
        pytest.skip("a SQLite URL holds no password")
    # The test server trusts local connections, so any password gets in: the point is the banner.
    with_password = make_url(database_url).set(password="s3cr3t-pw")
    env = _env(
        free_port(), free_port(), DATABASE_URL=with_password.render_as_string(hide_password=False)
    )
    process = _start(tmp_path, env, stderr=subprocess.DEVNULL)
    try:
        banner = _read_banner(process, time.monotonic() + 60)
    finally:
        _interrupt(process)
    assert "database" in banner, banner
    assert "s3cr3t-pw" not in banner
    assert "***" in banner


def test_sigterm_stops_the_api_the_worker_and_the_emulator(tmp_path: Path) -> None:
    api_port, emulator_port = free_port(), free_port()
    data = tmp_path / "data"
    data.mkdir()
    env = _env(api_port, emulator_port, DATABASE_URL=f"sqlite+aiosqlite:///{data / 'gw.db'}")
    process = _start(tmp_path, env)
    assert process.stdout is not None
    assert process.stderr is not None
    stdout, stderr = _Output(process.stdout), _Output(process.stderr)
    try:
        banner = stdout.wait_for("API key", 60)
        assert "API key" in banner, banner + stderr.text
        live = None
        deadline = time.monotonic() + 30
        while live is None and time.monotonic() < deadline:
            with suppress(httpx.TransportError):
                live = httpx.get(f"http://127.0.0.1:{api_port}/health/live")
            time.sleep(0.1)
        assert live is not None
        assert live.status_code == 200
        children = _children(process.pid)
        roles = sorted(
            "emulator" if " emulator " in command else "worker" if " worker" in command else command
            for command in children.values()
        )
        assert roles == ["emulator", "worker"], children

        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)

        assert [command for pid, command in children.items() if _alive(pid)] == []
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        stdout.close()
        stderr.close()
    assert (data / "emulator-state.json").exists()


@pytest.mark.parametrize("taken", ["API", "emulator"])
def test_a_taken_port_fails_loudly_before_the_banner(tmp_path: Path, taken: str) -> None:
    occupant = create_emulator_app(EmulatorSettings(_env_file=None))
    with serve_app(occupant) as url:
        port = urlsplit(url).port
        assert port is not None
        api_port, emulator_port = (port, free_port()) if taken == "API" else (free_port(), port)
        process = _start(tmp_path, _env(api_port, emulator_port))
        try:
            stdout, stderr = process.communicate(timeout=60)
        finally:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            for pipe in (process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()

    assert process.returncode not in (0, None)
    assert "API key" not in stdout
    assert f"port {port}" in stderr
    assert "already in use" in stderr
    assert taken in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("database_url", "state_file"),
    [
        ("sqlite+aiosqlite:///./gateway.db", Path("emulator-state.json")),
        (
            "sqlite+aiosqlite:////var/lib/gateway/gw.db",
            Path("/var/lib/gateway/emulator-state.json"),
        ),
        ("sqlite+aiosqlite:///:memory:", None),
        ("sqlite+aiosqlite://", None),
        ("postgresql+asyncpg://gateway@db/gateway", None),
    ],
)
def test_the_emulator_state_lives_beside_a_sqlite_file(
    database_url: str, state_file: Path | None
) -> None:
    assert emulator_state_file(database_url) == state_file
