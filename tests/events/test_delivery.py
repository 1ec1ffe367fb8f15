"""deliver_webhook against a real served receiver: signed, classified, secret never leaked."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.events import subscriptions
from app.events.delivery import deliver_webhook, retry_after_seconds
from app.events.models import WebhookSubscription
from app.events.service import fan_out_event, record_event
from app.events.types import EventType
from app.outbox.models import OutboxItem
from app.outbox.outcomes import Done, GiveUp, RetryLater
from app.resources import Resources
from tests.events.builders import add_invoice
from tests.support.servers import free_port, serve_app


@dataclass
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook endpoint answering with the status in its path (`/hook/429`), or slowly."""

    url: str
    requests: list[Received] = field(default_factory=list)


def receiver_app(requests: list[Received]) -> Starlette:
    async def hook(request: Request) -> Response:
        requests.append(Received(dict(request.headers), await request.body()))
        status = int(request.path_params["status"])
        return Response(status_code=status, headers={"Retry-After": "7"} if status == 429 else {})

    async def slow(request: Request) -> Response:
        # Longer than the test's client waits, short enough not to hold up server shutdown.
        await asyncio.sleep(0.5)
        return Response(status_code=200)

    return Starlette(
        routes=[
            Route("/hook/{status:int}", hook, methods=["POST"]),
            Route("/slow", slow, methods=["POST"]),
        ]
    )


@pytest.fixture(scope="module")
def served_receiver() -> Iterator[Receiver]:
    requests: list[Received] = []
    with serve_app(receiver_app(requests)) as url:
        yield Receiver(url, requests)


@pytest.fixture
def receiver(served_receiver: Receiver) -> Receiver:
    served_receiver.requests.clear()
    return served_receiver


async def queue_delivery(resources: Resources, url: str) -> tuple[OutboxItem, SecretStr]:
    """A subscription to `url`, an event, and the outbox item delivering one to the other."""
    async with resources.sessionmaker() as session, session.begin():
        _, secret = await subscriptions.create_subscription(
            session, resources.password_box, url=url
        )
        invoice = await add_invoice(session, status="paid", chorus_status="MISE_EN_PAIEMENT")
        event = await record_event(session, type=EventType.INVOICE_PAID, invoice=invoice)
        await session.flush()
        await fan_out_event(session, event.id)
        await session.flush()
        item = await session.scalar(select(OutboxItem).where(OutboxItem.kind == "webhook.deliver"))
    assert item is not None
    return item, secret


async def subscription_row(resources: Resources) -> WebhookSubscription:
    async with resources.sessionmaker() as session:
        row: WebhookSubscription | None = await session.scalar(select(WebhookSubscription))
    assert row is not None
    return row


async def test_a_delivery_is_signed_per_standard_webhooks(
    resources: Resources, receiver: Receiver
) -> None:
    item, secret = await queue_delivery(resources, f"{receiver.url}/hook/204")
    outcome = await deliver_webhook(resources, item)
    assert outcome == Done()
    [request] = receiver.requests
    payload = Webhook(secret.get_secret_value()).verify(request.body, request.headers)
    assert request.headers["webhook-id"] == item.payload["event_id"]
    assert request.headers["content-type"] == "application/json"
    assert payload["type"] == "invoice.paid"
    assert payload["timestamp"].endswith("Z")
    assert payload["data"]["invoice"]["chorus"]["status"] == "MISE_EN_PAIEMENT"
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUJD" * 8).verify(request.body, request.headers)


@pytest.mark.parametrize(
    ("path", "retry_after"),
    [("/hook/500", None), ("/hook/429", 7.0), ("/hook/404", None), ("/hook/301", None)],
)
async def test_a_refusal_is_retried_later_honouring_retry_after(
    resources: Resources,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
    path: str,
    retry_after: float | None,
) -> None:
    caplog.set_level(logging.DEBUG)
    item, secret = await queue_delivery(resources, receiver.url + path)
    outcome = await deliver_webhook(resources, item)
    assert isinstance(outcome, RetryLater)
    assert outcome.error == f"HTTP {path.rsplit('/', 1)[1]}"
    assert outcome.retry_after == retry_after
    assert len(receiver.requests) == 1
    assert_never_leaked(secret, outcome.error, caplog)


async def test_a_refused_connection_is_retried_later(
    resources: Resources, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    item, secret = await queue_delivery(resources, f"http://127.0.0.1:{free_port()}/hook")
    outcome = await deliver_webhook(resources, item)
    assert isinstance(outcome, RetryLater)
    assert outcome.error.startswith("connection failed")
    assert outcome.retry_after is None
    assert_never_leaked(secret, outcome.error, caplog)


async def test_a_timeout_is_retried_later(resources: Resources, receiver: Receiver) -> None:
    item, _ = await queue_delivery(resources, f"{receiver.url}/slow")
    async with httpx.AsyncClient(timeout=0.2) as impatient:
        outcome = await deliver_webhook(dataclasses.replace(resources, http=impatient), item)
    assert isinstance(outcome, RetryLater)
    assert outcome.error.startswith("timeout")


async def test_410_gone_finishes_and_disables_the_subscription(
    resources: Resources, receiver: Receiver
) -> None:
    item, _ = await queue_delivery(resources, f"{receiver.url}/hook/410")
    outcome = await deliver_webhook(resources, item)
    assert isinstance(outcome, Done)
    assert outcome.apply is not None
    assert (await subscription_row(resources)).disabled_at is None
    async with resources.sessionmaker() as session, session.begin():
        await outcome.apply(session)
    assert (await subscription_row(resources)).disabled_at is not None


async def test_a_disabled_subscription_finishes_without_a_request(
    resources: Resources, receiver: Receiver
) -> None:
    item, _ = await queue_delivery(resources, f"{receiver.url}/hook/200")
    async with resources.sessionmaker() as session, session.begin():
        await subscriptions.disable_subscription(session, item.payload["subscription_id"])
    assert await deliver_webhook(resources, item) == Done()
    assert receiver.requests == []


async def test_a_deleted_subscription_or_malformed_payload_sends_nothing(
    resources: Resources, receiver: Receiver
) -> None:
    item, _ = await queue_delivery(resources, f"{receiver.url}/hook/200")
    unknown = OutboxItem(kind=item.kind, payload={**item.payload, "subscription_id": "whk_gone"})
    assert await deliver_webhook(resources, unknown) == Done()
    malformed = OutboxItem(kind=item.kind, payload={"event_id": 42})
    assert isinstance(await deliver_webhook(resources, malformed), GiveUp)
    assert receiver.requests == []


def assert_never_leaked(secret: SecretStr, error: str, caplog: pytest.LogCaptureFixture) -> None:
    value = secret.get_secret_value()
    raw = value.removeprefix("whsec_")
    assert raw not in error
    assert caplog.records, "the delivery should have been logged"
    for record in caplog.records:
        assert raw not in record.getMessage()
        assert raw not in str(vars(record))


def test_retry_after_reads_seconds_and_http_dates() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Thu, 26 Nov 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Thu, 26 Nov 2026 11:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
