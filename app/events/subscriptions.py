"""Webhook subscriptions: register (secret shown once), list, disable."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import AnyUrl, SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from app.crypto import PasswordBox
from app.db.base import utc_now
from app.db.types import new_id
from app.errors import NotFound
from app.events import repository
from app.events.models import WebhookSubscription
from app.events.signing import new_secret
from app.events.targets import check_webhook_url
from app.events.types import EventType


async def create_subscription(
    session: AsyncSession,
    box: PasswordBox,
    *,
    url: AnyUrl,
    allow_private: bool = False,
    event_types: Sequence[EventType] = (),
    description: str | None = None,
) -> tuple[WebhookSubscription, SecretStr]:
    """Register an endpoint; returns it with its signing secret, kept only encrypted after.

    Raises `WebhookUrlNotAllowed` for a URL webhooks may not reach (see `app.events.targets`).
    """
    check_webhook_url(url, allow_private=allow_private)
    secret = new_secret()
    subscription = WebhookSubscription(
        id=new_id("whk_"),
        url=str(url),
        secret_ciphertext=box.seal(secret),
        # Deduplicated, in the enum's order, so equal requests store equal lists.
        event_types=[str(kind) for kind in EventType if kind in set(event_types)],
        description=description,
        created_at=utc_now(),
        disabled_at=None,
    )
    session.add(subscription)
    await session.flush()
    return subscription, secret


async def list_subscriptions(session: AsyncSession) -> Sequence[WebhookSubscription]:
    """Every subscription, disabled ones included (their `disabled_at` says since when)."""
    return await repository.all_subscriptions(session)


async def disable_subscription(session: AsyncSession, subscription_id: str) -> None:
    """Stop deliveries to this endpoint; pending ones finish unsent. Idempotent."""
    if await repository.get_subscription(session, subscription_id) is None:
        raise NotFound(f"No webhook subscription {subscription_id}.")
    await repository.disable_subscription(session, subscription_id, utc_now())
