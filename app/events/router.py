"""HTTP endpoints for webhook subscriptions (operators) and the pull feed (readers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api_types import PageSize, Position, WebhookIdPath
from app.auth.dependencies import OperatorDep, ReaderDep
from app.db.session import SessionDep
from app.dependencies import ResourcesDep
from app.events import service, subscriptions
from app.events.models import WebhookSubscription
from app.events.schemas import EventPage, WebhookCreatedOut, WebhookIn, WebhookOut
from app.events.types import EventType
from app.problems import problem_responses

router = APIRouter()

DEFAULT_FEED_LIMIT = 100


def _out(subscription: WebhookSubscription) -> WebhookOut:
    return WebhookOut.model_validate(subscription, from_attributes=True)


@router.post(
    "/v1/webhooks",
    status_code=201,
    response_model=WebhookCreatedOut,
    tags=["webhooks"],
    summary="Subscribe an endpoint to events",
    responses=problem_responses(401, 403, 422),
)
async def create_webhook(
    body: WebhookIn, session: SessionDep, resources: ResourcesDep, caller: OperatorDep
) -> WebhookCreatedOut:
    """Deliveries are signed with the returned secret, which is never shown again.

    Only public http(s) addresses are accepted: loopback, private, link-local, metadata and
    other internal targets, and URLs with credentials, are 422 `WEBHOOK_URL_NOT_ALLOWED`.
    """
    subscription, secret = await subscriptions.create_subscription(
        session,
        resources.password_box,
        url=body.url,
        allow_private=resources.settings.webhook.allow_private_targets,
        event_types=body.event_types,
        description=body.description,
    )
    return WebhookCreatedOut(**_out(subscription).model_dump(), secret=secret.get_secret_value())


@router.get(
    "/v1/webhooks",
    response_model=list[WebhookOut],
    tags=["webhooks"],
    summary="List webhook subscriptions",
    responses=problem_responses(401, 403, 422),
)
async def list_webhooks(session: SessionDep, caller: OperatorDep) -> list[WebhookOut]:
    """Every subscription, disabled ones included; secrets are never listed."""
    return [_out(subscription) for subscription in await subscriptions.list_subscriptions(session)]


@router.delete(
    "/v1/webhooks/{subscription_id}",
    status_code=204,
    response_class=Response,
    tags=["webhooks"],
    summary="Disable a webhook subscription",
    responses=problem_responses(401, 403, 404),
)
async def delete_webhook(
    subscription_id: WebhookIdPath, session: SessionDep, caller: OperatorDep
) -> None:
    """Stops deliveries at once; those already queued finish without being sent."""
    await subscriptions.disable_subscription(session, subscription_id)


@router.get(
    "/v1/events",
    response_model=EventPage,
    tags=["events"],
    summary="Read status events in order",
    responses=problem_responses(401, 403, 422),
)
async def list_events(
    session: SessionDep,
    caller: ReaderDep,
    after: Annotated[Position, Query(description="The last `position` already seen.")] = 0,
    limit: Annotated[PageSize, Query()] = DEFAULT_FEED_LIMIT,
    event_type: Annotated[EventType | None, Query(alias="type")] = None,
) -> EventPage:
    """Events of the caller's suppliers after `after`, oldest first; poll with `next_after`."""
    return await service.list_events(
        session, caller, after=after, limit=limit, event_type=event_type
    )
