"""Child processes: spawned with an explicit environment, logged to a file, stopped by pid.

A developer's `.env` and the caller's own gateway settings never leak into a child; every wait
is bounded; a child gets SIGTERM when its parent dies (Linux).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
# Variables of ours that must not leak from the caller's environment into the children.
_OWN_PREFIXES = ("DATABASE_", "API_", "CHORUS_", "OUTBOX_", "LOG_", "EMULATOR_")
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


class HarnessError(RuntimeError):
    """A process did not start, answer or finish as expected (the message has its log tail)."""


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the harness dies (Linux prctl; best effort)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def clean_environ() -> dict[str, str]:
    """This process's environment without the gateway's own settings or proxies."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_OWN_PREFIXES) and key not in _PROXY_VARIABLES
    }


def python_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of one of our Python children (the repository importable from anywhere)."""
    env = clean_environ()
    pythonpath = [str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])]
    env |= {
        "PYTHONPATH": os.pathsep.join(pythonpath),
        "PYTHONUNBUFFERED": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    return env | dict(extra)


def app_argv(*args: str) -> list[str]:
    """`python -m app <args>` with this interpreter."""
    return [sys.executable, "-m", "app", *args]


def cpu_by_pid(pids: Sequence[int]) -> dict[int, float]:
    """User + system CPU seconds so far of each of these processes (those still alive)."""
    found: dict[int, float] = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state is fields[0]
        found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def descendants(pid: int) -> list[int]:
    """Every live descendant of `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


@dataclass
class Proc:
    """One child process (its own session) and its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    started_at: float = field(default_factory=time.monotonic)

    @classmethod
    def spawn(
        cls,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        workdir: Path,
        cwd: Path | None = None,
    ) -> Proc:
        """Start `argv` in `cwd` (default `workdir`), output to `workdir/<name>.log`; at once."""
        log_path = workdir / f"{name}.log"
        log_file = log_path.open("ab")
        popen = subprocess.Popen(  # noqa: S603 - argv built by our callers: our interpreter, wrk or py-spy
            list(argv),
            cwd=cwd or workdir,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal reaches us; we stop them in order
            # Only prctl(PR_SET_PDEATHSIG): takes no lock, safe after fork.
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        return cls(name, popen, log_path, log_file)

    @property
    def pid(self) -> int:
        """The child's pid."""
        return self.popen.pid

    @property
    def alive(self) -> bool:
        """Whether it still runs."""
        return self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        """Its exit status (negative: the signal that ended it), None while running."""
        return self.popen.poll()

    def signal(self, signum: int) -> None:
        """Send `signum` to this child, by pid, unless it already exited."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    async def wait(self, within: float) -> int | None:
        """Wait up to `within` seconds for it to exit; its exit status or None."""
        deadline = time.monotonic() + within
        # A Popen child has no awaitable exit: poll, bounded by the deadline.
        while self.alive and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return self.returncode

    def tree(self) -> list[int]:
        """Its pid and its descendants' (uvicorn `--workers N` forks N children)."""
        return [self.pid, *descendants(self.pid)]

    def stop(self, within: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after `within` seconds; its exit status."""
        if self.alive:
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(within)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait(5)
        self.log_file.close()
        return self.popen.returncode

    def cpu_seconds(self) -> float | None:
        """User + system CPU time so far (Linux /proc), None if unknown or exited."""
        return cpu_by_pid([self.pid]).get(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        """The end of its output, for error messages."""
        try:
            content = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(content.splitlines()[-lines:])


def wait_http(url: str, proc: Proc, within: float = 60.0) -> None:
    """Wait until `url` answers 200 (raises if `proc` dies or time runs out)."""
    deadline = time.monotonic() + within
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if not proc.alive:
                raise HarnessError(f"{proc.name} exited {proc.returncode}:\n{proc.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if client.get(url).status_code == 200:
                    return
            time.sleep(0.1)
    raise HarnessError(f"{proc.name} not ready at {url}:\n{proc.log_tail()}")


async def wait_http_async(url: str, proc: Proc, within: float = 60.0, tail: int = 30) -> None:
    """`wait_http` for a caller on an event loop."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if not proc.alive:
                raise HarnessError(f"{proc.name} exited {proc.returncode}:\n{proc.log_tail(tail)}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise HarnessError(f"{proc.name} not ready at {url}:\n{proc.log_tail(tail)}")


def run_app_cli(args: Sequence[str], env: Mapping[str, str], workdir: Path) -> str:
    """Run `python -m app <args>` to completion (60 s at most); its output."""
    result = subprocess.run(  # noqa: S603 - fixed argv: this interpreter running our own app
        app_argv(*args),
        cwd=workdir,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise HarnessError(f"`app {' '.join(args)}` exited {result.returncode}:\n{result.stderr}")
    return result.stdout
