"""Sending one event to one webhook endpoint, signed, outside any database transaction."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial

import httpx
from pydantic import AnyUrl
from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.crypto import PasswordBox, SecretsKeyMissing
from app.db.base import utc_now
from app.events import repository
from app.events.models import Event
from app.events.service import fan_out_event
from app.events.signing import signature_headers
from app.events.targets import TargetNotAllowed, WebhookUrlNotAllowed, check_webhook_url
from app.events.work import EventWork
from app.outbox.models import OutboxItem
from app.outbox.outcomes import Apply, Done, GiveUp, Outcome, RetryLater
from app.outbox.worker import Handler
from app.settings import WebhookSettings

logger = logging.getLogger(__name__)

GONE = 410


def webhook_body(event: Event) -> str:
    """The Standard Webhooks payload for `event`: type, timestamp, data, as compact JSON."""
    payload = {"type": event.type, "timestamp": event.created_at, "data": event.data}
    return json.dumps(to_jsonable_python(payload), separators=(",", ":"), ensure_ascii=False)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """The delay a `Retry-After` header asks for (seconds or an HTTP date), if it is readable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or utc_now())).total_seconds())


def _disable(subscription_id: str) -> Apply:
    async def apply(session: AsyncSession) -> None:
        await repository.disable_subscription(session, subscription_id, utc_now())

    return apply


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """What delivering webhooks uses."""

    sessionmaker: async_sessionmaker[AsyncSession]
    # Outbound HTTP guarded against SSRF (`events.transport.webhook_client`).
    http: httpx.AsyncClient
    password_box: PasswordBox
    settings: WebhookSettings


def event_handlers(delivery: WebhookDelivery) -> dict[str, Handler]:
    """The handler of each kind of event work; webhook deliveries are bound to `delivery`."""
    return {
        EventWork.FAN_OUT: fan_out,
        EventWork.DELIVER_WEBHOOK: partial(deliver_webhook, delivery),
    }


async def deliver_webhook(delivery: WebhookDelivery, item: OutboxItem) -> Outcome:
    """Handle a `webhook.deliver` outbox item: POST the signed event to its subscription."""
    event_id = item.payload.get("event_id")
    subscription_id = item.payload.get("subscription_id")
    if not isinstance(event_id, str) or not isinstance(subscription_id, str):
        return GiveUp(error="malformed webhook payload: event_id and subscription_id expected")
    # The handler's own short read-only session, closed before the call: no lock is held
    # across HTTP (the outcome is recorded by the worker in its own transaction).
    async with delivery.sessionmaker() as session:
        event = await repository.get_event(session, event_id)
        subscription = await repository.get_subscription(session, subscription_id)
    if subscription is None or subscription.disabled_at is not None:
        return Done()
    if event is None:
        return GiveUp(error=f"event {event_id} not found")
    try:
        secret = delivery.password_box.open(subscription.secret_ciphertext)
    except SecretsKeyMissing:
        # A key configuration problem an operator can fix: keep the delivery, try later.
        return RetryLater(error="the signing secret cannot be decrypted (secrets key changed?)")

    context = {"event_id": event.id, "subscription_id": subscription.id, "attempt": item.attempts}
    settings = delivery.settings
    try:
        # Subscriptions stored before the rules, or under another setting, meet them here too.
        check_webhook_url(AnyUrl(subscription.url), allow_private=settings.allow_private_targets)
    except WebhookUrlNotAllowed as exc:
        error = f"target not allowed: {exc}"
        logger.warning("webhook delivery refused: %s", error, extra=context)
        return GiveUp(error=error)
    except ValueError:
        # Not the parser's message: it quotes the URL, credentials included.
        return GiveUp(error="target not allowed: the stored URL does not parse")

    body = webhook_body(event)
    # webhook-id is the event's id, the same on every retry: receivers de-duplicate on it.
    headers = signature_headers(secret, msg_id=event.id, timestamp=utc_now(), body=body)
    headers["content-type"] = "application/json"
    try:
        # A total deadline: httpx's timeouts are per read, and a receiver that trickles its
        # answer a byte at a time would otherwise hold this delivery forever.
        async with asyncio.timeout(settings.timeout_seconds):
            status, retry_after = await _post(
                delivery.http, subscription.url, body, headers, settings.max_response_bytes
            )
    except TimeoutError:
        error = f"timeout (no complete answer within {settings.timeout_seconds:g} s)"
        logger.warning("webhook delivery failed: %s", error, extra=context)
        return RetryLater(error=error)
    except TargetNotAllowed as exc:
        error = f"target not allowed: {exc}"
        logger.warning("webhook delivery refused: %s", error, extra=context)
        return GiveUp(error=error)
    except httpx.TimeoutException as exc:
        error = f"timeout ({type(exc).__name__})"
        logger.warning("webhook delivery failed: %s", error, extra=context)
        return RetryLater(error=error)
    except httpx.HTTPError as exc:
        # The class name says enough (refused, reset, DNS); messages may echo the URL.
        error = f"connection failed ({type(exc).__name__})"
        logger.warning("webhook delivery failed: %s", error, extra=context)
        return RetryLater(error=error)

    if 200 <= status < 300:
        logger.info("webhook delivered", extra={**context, "status": status})
        return Done()
    if status == GONE:
        # Standard Webhooks: 410 means the receiver wants no more deliveries.
        logger.warning("webhook endpoint gone; subscription disabled", extra=context)
        return Done(apply=_disable(subscription.id))
    error = f"HTTP {status}"
    logger.warning("webhook delivery failed: %s", error, extra={**context, "status": status})
    return RetryLater(error=error, retry_after=retry_after_seconds(retry_after))


async def _post(
    http: httpx.AsyncClient, url: str, body: str, headers: dict[str, str], max_bytes: int
) -> tuple[int, str | None]:
    """POST and read at most `max_bytes` of the answer; its status and `Retry-After`.

    Only the status matters. A short answer is read to its end so the connection can be
    reused; a longer one is left unread and its connection closed. Raw bytes, so a compressed
    answer is never inflated.
    """
    async with http.stream("POST", url, content=body.encode("utf-8"), headers=headers) as response:
        read = 0
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read > max_bytes:
                break
        return response.status_code, response.headers.get("retry-after")


async def fan_out(item: OutboxItem) -> Outcome:
    """Turn one event into its webhook deliveries, in the lease-checked transaction."""
    event_id = item.payload.get("event_id")
    if not isinstance(event_id, str):
        return GiveUp("fan-out item without an event id")
    return Done(apply=partial(_fan_out, event_id))


async def _fan_out(event_id: str, session: AsyncSession) -> None:
    await fan_out_event(session, event_id)
