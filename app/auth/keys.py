"""API keys: generated with enough entropy that a plain SHA-256 is a safe way to store them."""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "cpg_"


def generate_key() -> str:
    """A new API key: a recognizable prefix and 256 random bits."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The stored form of a key.

    Keys are random 256-bit tokens, not passwords: no dictionary can guess them, so a slow
    password hash would only cost latency on every request.
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def display_prefix(key: str) -> str:
    """The first characters of a key, safe to show so operators can tell keys apart."""
    return key[: len(KEY_PREFIX) + 6]
