"""One log format for every process: the API, the worker, the emulator and uvicorn's own lines."""

from __future__ import annotations

import json
import logging
import logging.config
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
from uvicorn.config import LOGGING_CONFIG

from app.logging import configure_logging
from app.settings import LogSettings
from tests.builders import invoice_payload
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Leave the process's logging as the test found it (the handlers point at capsys)."""
    root = logging.getLogger()
    saved = [(root, root.handlers[:], root.level, root.propagate)]
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.level, logger.propagate))
    yield
    for logger, handlers, level, propagate in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


def _configured_as_uvicorn_does() -> None:
    # uvicorn applies its own logging config before our app configures logging.
    logging.config.dictConfig(LOGGING_CONFIG)
    configure_logging(LogSettings(level="INFO", format="json"))


def test_uvicorn_server_lines_are_json_without_its_color_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _configured_as_uvicorn_does()

    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]", 42, extra={"color_message": "[\x1b[36m%d\x1b[0m]"}
    )

    (line,) = capsys.readouterr().out.splitlines()
    record = json.loads(line)
    assert record["event"] == "Started server process [42]"
    assert record["logger"] == "uvicorn.error"
    assert "color_message" not in record


def test_uvicorn_access_lines_share_the_format(capsys: pytest.CaptureFixture[str]) -> None:
    _configured_as_uvicorn_does()

    logging.getLogger("uvicorn.access").warning(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/x", "1.1", 404
    )

    captured = capsys.readouterr()
    (line,) = captured.out.splitlines()
    assert json.loads(line)["logger"] == "uvicorn.access"
    assert captured.err == ""


def _lines_of_a_whole_run(tmp_path: Path) -> list[str]:
    """Everything `gateway run` (API, worker, emulator) writes, from start to SIGTERM."""
    api_port, emulator_port = free_port(), free_port()
    env = {
        **os.environ,
        "API_PORT": str(api_port),
        "CHORUS_TOKEN_URL": f"http://127.0.0.1:{emulator_port}/api/oauth/token",
        "CHORUS_API_URL": f"http://127.0.0.1:{emulator_port}",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
        "OUTBOX_POLL_INTERVAL_SECONDS": "0.1",
        "PYTHONPATH": str(ROOT),
    }
    output = tmp_path / "output.log"
    with output.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "run"],
            cwd=tmp_path,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while "API key" not in output.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)
            key = re.search(r"API key\s+(cpg_\S+)", output.read_text())
            assert key, output.read_text()
            created = None
            while created is None and time.monotonic() < deadline:
                with suppress(httpx.TransportError):
                    created = httpx.post(
                        f"http://127.0.0.1:{api_port}/v1/invoices",
                        json=invoice_payload(),
                        headers={"Authorization": f"Bearer {key.group(1)}"},
                    )
                time.sleep(0.2)
            assert created is not None
            assert created.status_code == 201, created.text
            # The worker's line for its delivery to the emulator.
            while "outbox.attempt" not in output.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=30)
        finally:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    return output.read_text().splitlines()


def test_every_process_of_a_run_logs_json_lines(tmp_path: Path) -> None:
    lines = _lines_of_a_whole_run(tmp_path)

    start = lines.index("Chorus Pro Gateway")
    end = next(i for i, line in enumerate(lines) if line.lstrip().startswith("API key"))
    logged = [line for line in lines[:start] + lines[end + 1 :] if line.strip()]
    records: list[dict[str, Any]] = []
    for line in logged:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON log line: {line!r}")
    assert all({"event", "level", "timestamp"} <= record.keys() for record in records), records
    assert not [record for record in records if "color_message" in record]
    events = {record["event"] for record in records}
    assert {"request", "outbox.attempt"} <= events  # the API's and the worker's own lines
    started = [r for r in records if r["event"] == "Application startup complete."]
    assert len(started) == 2, records  # uvicorn's lines, of the API and of the emulator
