"""The worker process: which handler does which outbox kind, and the loop's lifetime."""

from __future__ import annotations

import asyncio
import signal

import uvloop

from app.events.delivery import WebhookDelivery, event_handlers
from app.events.work import EventWork
from app.formats import conformance
from app.invoices.forwarding import Forwarding, invoice_handlers
from app.invoices.transitions import lock_invoices
from app.logging import configure_logging
from app.metrics import serve_process_metrics
from app.outbox.worker import Handler, Lane, Worker
from app.resources import Resources, directory_access, open_resources
from app.settings import Settings


def forwarding(resources: Resources) -> Forwarding:
    """What the invoice handlers use, taken from this process's resources."""
    settings = resources.settings
    return Forwarding(
        sessionmaker=resources.sessionmaker,
        chorus=resources.chorus,
        password_box=resources.password_box,
        directory=directory_access(resources),
        chorus_settings=settings.chorus,
        outbox_settings=settings.outbox,
    )


def webhook_delivery(resources: Resources) -> WebhookDelivery:
    """What webhook deliveries use, taken from this process's resources."""
    return WebhookDelivery(
        sessionmaker=resources.sessionmaker,
        http=resources.http,
        password_box=resources.password_box,
        settings=resources.settings.webhook,
    )


def handlers(resources: Resources) -> dict[str, Handler]:
    """Each outbox kind's handler, bound to what it uses of this process's resources."""
    return invoice_handlers(forwarding(resources)) | event_handlers(webhook_delivery(resources))


def build_worker(resources: Resources, worker_id: str | None = None) -> Worker:
    """A worker over this process's resources."""
    settings = resources.settings
    worker = Worker(
        sessionmaker=resources.sessionmaker,
        handlers=handlers(resources),
        settings=settings.outbox,
        last_chorus_success=lambda: resources.chorus.last_success_at,
        prepare_record=lock_invoices,
        # Receivers are outside our control: their slots are their own, never an invoice's.
        lanes=(
            Lane("outbox", settings.outbox.batch_size),
            Lane(
                "webhooks",
                settings.webhook.concurrency,
                kinds=frozenset({EventWork.DELIVER_WEBHOOK}),
            ),
        ),
    )
    if worker_id:
        worker.worker_id = worker_id
    return worker


def main(settings: Settings, worker_id: str | None = None) -> None:
    """The worker process: `run_worker` on uvloop, whose event loop costs a worker handling
    many small HTTP calls and queries far less CPU than asyncio's own (as for the API)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run_worker(settings, worker_id))


async def run_worker(settings: Settings, worker_id: str | None = None) -> None:
    """Run until SIGTERM or SIGINT, then finish the items in hand and exit."""
    configure_logging(settings.log)
    if settings.outbox.metrics_port:
        serve_process_metrics(
            settings.outbox.metrics_host, settings.outbox.metrics_port, settings.metrics.token
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with open_resources(settings) as resources:
        try:
            await build_worker(resources, worker_id).run(stop)
        finally:
            # The items in hand are finished: no check is running; end the schematron's process.
            conformance.shutdown()
