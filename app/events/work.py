"""The outbox kinds of event work: what `delivery` handles, enqueued when an event is recorded.

The values are stored in the outbox and must never change.
"""

from __future__ import annotations

from enum import StrEnum


class EventWork(StrEnum):
    """Outbound work about one event."""

    FAN_OUT = "event.fan_out"
    DELIVER_WEBHOOK = "webhook.deliver"
