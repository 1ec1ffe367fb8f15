"""deliver_webhook against a real served receiver: signed, classified, secret never leaked."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field

import httpx
import pytest
from pydantic import AnyUrl, SecretStr
from sqlalchemy import select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from app.events import subscriptions
from app.events.delivery import deliver_webhook, retry_after_seconds
from app.events.models import WebhookSubscription
from app.events.service import fan_out_event, record_event
from app.events.transport import guarded_transport, webhook_client
from app.events.types import EventType
from app.outbox.models import OutboxItem
from app.outbox.outcomes import Done, GiveUp, RetryLater
from app.resources import Resources, open_resources
from app.settings import Settings, WebhookSettings
from app.worker import webhook_delivery
from tests.events.builders import add_invoice
from tests.support.servers import free_port, serve_app


@dataclass
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes


DEADLINE_SECONDS = 1.0
TRICKLE_SECONDS = 30.0
LARGE_BODY_BYTES = 32 * 1024 * 1024


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Receivers here are served on loopback: the documented development mode lets them in."""
    webhook = WebhookSettings(allow_private_targets=True, timeout_seconds=DEADLINE_SECONDS)
    return settings.model_copy(update={"webhook": webhook})


@dataclass
class Receiver:
    """A webhook endpoint answering with the status in its path (`/hook/429`), or slowly."""

    url: str
    requests: list[Received] = field(default_factory=list)


async def _trickle() -> AsyncIterator[bytes]:
    # One byte at a time: each read finishes well within any per-read timeout.
    for _ in range(int(TRICKLE_SECONDS / 0.05)):
        yield b"."
        await asyncio.sleep(0.05)


async def _large() -> AsyncIterator[bytes]:
    chunk = b"x" * (1024 * 1024)
    for _ in range(LARGE_BODY_BYTES // len(chunk)):
        yield chunk


def receiver_app(requests: list[Received]) -> Starlette:
    async def hook(request: Request) -> Response:
        requests.append(Received(dict(request.headers), await request.body()))
        status = int(request.path_params["status"])
        return Response(status_code=status, headers={"Retry-After": "7"} if status == 429 else {})

    async def slow(request: Request) -> Response:
        # Longer than the test's client waits, short enough not to hold up server shutdown.
        await asyncio.sleep(0.5)
        return Response(status_code=200)

    async def trickle(request: Request) -> Response:
        requests.append(Received(dict(request.headers), await request.body()))
        return StreamingResponse(_trickle(), status_code=200)

    async def large(request: Request) -> Response:
        requests.append(Received(dict(request.headers), await request.body()))
        return StreamingResponse(_large(), status_code=200)

    return Starlette(
        routes=[
            Route("/hook/{status:int}", hook, methods=["POST"]),
            Route("/slow", slow, methods=["POST"]),
            Route("/trickle", trickle, methods=["POST"]),
            Route("/large", large, methods=["POST"]),
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
        # As registered in development mode: delivery-time checks are what is tested here.
        _, secret = await subscriptions.create_subscription(
            session, resources.password_box, url=AnyUrl(url), allow_private=True
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
    outcome = await deliver_webhook(webhook_delivery(resources), item)
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
    outcome = await deliver_webhook(webhook_delivery(resources), item)
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
    outcome = await deliver_webhook(webhook_delivery(resources), item)
    assert isinstance(outcome, RetryLater)
    assert outcome.error.startswith("connection failed")
    assert outcome.retry_after is None
    assert_never_leaked(secret, outcome.error, caplog)


async def test_a_timeout_is_retried_later(resources: Resources, receiver: Receiver) -> None:
    item, _ = await queue_delivery(resources, f"{receiver.url}/slow")
    async with httpx.AsyncClient(timeout=0.2) as impatient:
        outcome = await deliver_webhook(
            dataclasses.replace(webhook_delivery(resources), http=impatient), item
        )
    assert isinstance(outcome, RetryLater)
    assert outcome.error.startswith("timeout")


async def test_410_gone_finishes_and_disables_the_subscription(
    resources: Resources, receiver: Receiver
) -> None:
    item, _ = await queue_delivery(resources, f"{receiver.url}/hook/410")
    outcome = await deliver_webhook(webhook_delivery(resources), item)
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
    assert await deliver_webhook(webhook_delivery(resources), item) == Done()
    assert receiver.requests == []


async def test_a_deleted_subscription_or_malformed_payload_sends_nothing(
    resources: Resources, receiver: Receiver
) -> None:
    item, _ = await queue_delivery(resources, f"{receiver.url}/hook/200")
    unknown = OutboxItem(kind=item.kind, payload={**item.payload, "subscription_id": "whk_gone"})
    assert await deliver_webhook(webhook_delivery(resources), unknown) == Done()
    malformed = OutboxItem(kind=item.kind, payload={"event_id": 42})
    assert isinstance(await deliver_webhook(webhook_delivery(resources), malformed), GiveUp)
    assert receiver.requests == []


async def test_a_receiver_that_trickles_its_answer_is_cut_off_at_the_deadline(
    resources: Resources, receiver: Receiver
) -> None:
    item, _ = await queue_delivery(resources, f"{receiver.url}/trickle")
    # Without a total deadline, every byte resets the read timeout: this would wait 30 s.
    async with asyncio.timeout(DEADLINE_SECONDS + 9):
        outcome = await deliver_webhook(webhook_delivery(resources), item)
    assert isinstance(outcome, RetryLater)
    assert outcome.error == f"timeout (no complete answer within {DEADLINE_SECONDS:g} s)"
    assert len(receiver.requests) == 1


class CountingStream(httpx.AsyncByteStream):
    """A response body that counts the bytes its reader took from the network."""

    def __init__(self, inner: httpx.AsyncByteStream, counts: list[int]) -> None:
        self.inner = inner
        self.counts = counts

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            self.counts.append(len(chunk))
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


class CountingTransport(httpx.AsyncBaseTransport):
    """The webhook transport, with the response bytes read counted."""

    def __init__(self) -> None:
        self.inner = guarded_transport(allow_private=True)
        self.counts: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=CountingStream(response.stream, self.counts),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_only_the_start_of_a_large_answer_is_read(
    resources: Resources, receiver: Receiver
) -> None:
    item, _ = await queue_delivery(resources, f"{receiver.url}/large")
    transport = CountingTransport()
    async with httpx.AsyncClient(transport=transport) as counted:
        outcome = await deliver_webhook(
            dataclasses.replace(webhook_delivery(resources), http=counted), item
        )
    assert outcome == Done()
    limit = resources.settings.webhook.max_response_bytes
    # What was kept is the limit; what was read past it is at most one network read (64 KiB).
    assert 0 < sum(transport.counts) <= limit + 64 * 1024
    assert sum(transport.counts) < LARGE_BODY_BYTES


class FakeDns:
    """A resolver answering from a table, counting its lookups (tests never use real DNS)."""

    def __init__(self, table: dict[str, Sequence[str]]) -> None:
        self.table = table
        self.lookups: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.lookups.append((host, port))
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


def hooks_url(receiver: Receiver, path: str = "/hook/204") -> str:
    """The receiver's URL under the name `hooks.example` (resolved by a `FakeDns`)."""
    return receiver.url.replace("127.0.0.1", "hooks.example") + path


async def deliver_through(
    resources: Resources, item: OutboxItem, dns: FakeDns, *, allow_private: bool
) -> object:
    client = webhook_client(timeout_seconds=5, allow_private=allow_private, resolve=dns)
    async with client:
        return await deliver_webhook(
            dataclasses.replace(webhook_delivery(resources), http=client), item
        )


@pytest.mark.parametrize(
    "addresses",
    [["127.0.0.1"], ["10.0.0.7"], ["169.254.169.254"], ["::ffff:127.0.0.1"], ["1.1.1.1", "::1"]],
)
async def test_a_host_that_resolves_to_an_internal_address_is_refused_at_delivery(
    resources: Resources, receiver: Receiver, addresses: list[str]
) -> None:
    # Registered while the name pointed elsewhere, or a DNS server that rebinds it: every
    # address it resolves to at delivery time is checked, and one internal address refuses it.
    item, _ = await queue_delivery(resources, hooks_url(receiver))
    dns = FakeDns({"hooks.example": addresses})
    outcome = await deliver_through(resources, item, dns, allow_private=False)
    assert isinstance(outcome, GiveUp)
    assert outcome.error.startswith("target not allowed")
    assert receiver.requests == []


async def test_the_connection_goes_to_the_address_that_was_checked(
    resources: Resources, receiver: Receiver
) -> None:
    item, _ = await queue_delivery(resources, hooks_url(receiver))
    dns = FakeDns({"hooks.example": ["127.0.0.1"]})
    assert await deliver_through(resources, item, dns, allow_private=True) == Done()
    port = int(receiver.url.rsplit(":", 1)[1])
    # One lookup, and the request went to its answer with the URL's own host name.
    assert dns.lookups == [("hooks.example", port)]
    [request] = receiver.requests
    assert request.headers["host"] == f"hooks.example:{port}"


async def test_a_host_that_does_not_resolve_is_retried_later(
    resources: Resources, receiver: Receiver
) -> None:
    item, _ = await queue_delivery(resources, hooks_url(receiver))
    outcome = await deliver_through(resources, item, FakeDns({}), allow_private=False)
    assert isinstance(outcome, RetryLater)
    assert outcome.error == "connection failed (ConnectError)"


async def test_by_default_deliveries_to_loopback_are_refused(
    settings: Settings, engine: object, receiver: Receiver
) -> None:
    default = settings.model_copy(update={"webhook": WebhookSettings()})
    async with open_resources(default) as guarded:
        item, _ = await queue_delivery(guarded, f"{receiver.url}/hook/204")
        outcome = await deliver_webhook(webhook_delivery(guarded), item)
    assert isinstance(outcome, GiveUp)
    assert outcome.error.startswith("target not allowed")
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
