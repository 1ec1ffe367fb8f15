"""Webhook signing secrets and Standard Webhooks signatures (HMAC-SHA256)."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

from pydantic import SecretStr
from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
# Standard Webhooks asks for 24 to 64 random bytes.
SECRET_BYTES = 32


def new_secret() -> SecretStr:
    """A fresh signing secret, `whsec_<base64>`, as receivers' libraries expect it."""
    raw = secrets.token_bytes(SECRET_BYTES)
    return SecretStr(SECRET_PREFIX + base64.b64encode(raw).decode("ascii"))


def signature_headers(
    secret: SecretStr, *, msg_id: str, timestamp: datetime, body: str
) -> dict[str, str]:
    """The `webhook-*` headers for sending `body` as message `msg_id` at `timestamp`."""
    # The library reads the timestamp's fields as UTC whatever its zone: give it UTC.
    timestamp = timestamp.astimezone(UTC)
    signature = Webhook(secret.get_secret_value()).sign(msg_id, timestamp, body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }
