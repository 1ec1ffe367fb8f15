"""`gateway run`: the whole product from one command, as a new user starts it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.builders import invoice_payload
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[1]


def test_one_command_runs_api_worker_and_emulator_and_delivers(tmp_path: Path) -> None:
    api_port, emulator_port = free_port(), free_port()
    env = {
        **os.environ,
        "API_PORT": str(api_port),
        "CHORUS_TOKEN_URL": f"http://127.0.0.1:{emulator_port}/api/oauth/token",
        "CHORUS_API_URL": f"http://127.0.0.1:{emulator_port}",
        "OUTBOX_POLL_INTERVAL_SECONDS": "0.1",
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        banner = ""
        deadline = time.monotonic() + 60
        while "API key" not in banner and time.monotonic() < deadline:
            banner += process.stdout.readline()
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
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=30) is not None
        if process.stdout is not None:
            process.stdout.close()
    assert (tmp_path / "gateway.db").exists()
    leftovers = subprocess.run(  # noqa: S603
        ["pgrep", "-f", f"--port {emulator_port}"],  # noqa: S607
        capture_output=True,
        check=False,
    )
    assert leftovers.stdout == b""
