"""A due flux is integrated once, however many calls arrive together to settle it."""

from __future__ import annotations

import asyncio
import sys
import threading
from datetime import datetime, timedelta

import httpx

from app.emulator.clock import Clock
from app.emulator.main import create_emulator_app

from .builders import login
from .conftest import START, make_config
from .documents import cii, deposit_body, tarball

DEPOSER = "/cpro/factures/v1/deposer/flux"
DOCUMENTS = 100


class MeetingSource:
    """A frozen time source that, once armed, holds the first two reads made off `loop_thread`
    until both have arrived.

    The emulator's store is only consistent if every call runs on the event loop: a read from
    another thread is a call running beside the others. Holding two such reads together makes
    them settle the flux side by side every time, instead of when the scheduler happens to.
    """

    def __init__(self, at: datetime, loop_thread: int) -> None:
        self.at = at
        self.loop_thread = loop_thread
        self.armed = False
        self.off_loop_reads = 0
        self._meeting = threading.Barrier(2)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        if self.armed and threading.get_ident() != self.loop_thread:
            with self._lock:
                self.off_loop_reads += 1
                meet = self.off_loop_reads <= 2
            if meet:
                # A timeout, so a lone off-loop read fails the test rather than hanging it.
                try:
                    self._meeting.wait(timeout=5)
                except threading.BrokenBarrierError:
                    pass
        return self.at


async def test_calls_arriving_together_integrate_a_due_flux_once() -> None:
    source = MeetingSource(START, threading.get_ident())
    clock = Clock(source)
    app = create_emulator_app(make_config(), clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
        headers = await login(client)
        archive = tarball(
            *[(f"{index}.xml", cii(number=f"C-{index:03d}")) for index in range(DOCUMENTS)]
        )
        deposit = await client.post(DEPOSER, json=deposit_body(archive), headers=headers)
        assert deposit.json()["codeRetour"] == 0, deposit.text
        source.at = START + timedelta(seconds=2)
        source.armed = True
        # Threads released together then take turns often, not after 5 ms of the other's work.
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-5)
        try:
            await asyncio.gather(client.get("/_emulator/flux"), client.get("/_emulator/flux"))
        finally:
            sys.setswitchinterval(interval)
        truth = (await client.get("/_emulator/invoices")).json()
        [flux] = (await client.get("/_emulator/flux")).json()

    assert truth["total"] == DOCUMENTS
    assert truth["duplicates_refused"] == 0
    assert flux["state"] == "IN_INTEGRE"
    assert flux["errors"] == []
    assert len(flux["invoice_ids"]) == DOCUMENTS
    assert source.off_loop_reads == 0
