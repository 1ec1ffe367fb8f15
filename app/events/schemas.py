"""Events and webhook subscriptions on the wire; signing secrets go out once, never in."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AnyUrl, BaseModel, BeforeValidator, ConfigDict, Field, UrlConstraints

from app.events.types import EventType


def _refuse_nul(value: object) -> object:
    # PostgreSQL cannot store NUL in text, and the URL parser would drop it silently.
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("NUL characters (\\u0000) are not allowed")
    return value


NoNul = BeforeValidator(_refuse_nul)
WebhookUrl = Annotated[
    AnyUrl,
    UrlConstraints(max_length=2000, allowed_schemes=["http", "https"], host_required=True),
    NoNul,
]


class WebhookIn(BaseModel):
    """An endpoint to receive signed events."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl = Field(examples=["https://accounting.example/hooks/chorus"])
    event_types: list[EventType] = Field(
        default_factory=list,
        max_length=len(EventType),
        description="The event types to receive; empty or absent: all of them.",
    )
    description: Annotated[str | None, NoNul] = Field(default=None, max_length=200)


class WebhookOut(BaseModel):
    """A subscription, without its signing secret."""

    id: str = Field(examples=["whk_01JDZ5S2V6Q8W3K4M5N6P7R8T9"])
    url: str
    event_types: list[EventType]
    description: str | None
    created_at: datetime
    disabled_at: datetime | None = Field(
        description="Set when deleted, or when the endpoint answered 410 Gone."
    )


class WebhookCreatedOut(WebhookOut):
    """A new subscription, with the signing secret shown only in this response."""

    secret: str = Field(
        description="Verify `webhook-signature` with it (Standard Webhooks). Shown only once.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class EventOut(BaseModel):
    """One status change, as the pull feed and webhooks publish it."""

    position: int = Field(description="The feed's order: pass the last one seen as `after`.")
    id: str = Field(description="Same as the webhook's `webhook-id`: de-duplicate on it.")
    type: EventType
    created_at: datetime
    data: dict[str, Any] = Field(
        description="`invoice`: a snapshot of the invoice after the change; `detail`: context."
    )


class EventPage(BaseModel):
    """Events in order; pass `next_after` as `after` to continue."""

    items: list[EventOut]
    next_after: int
