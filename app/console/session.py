"""The console's session: a signed, expiring cookie naming the API client, and its CSRF token.

The cookie never holds the key. It holds the client id, a fingerprint of the key's hash (so a
rotated or revoked key ends its sessions) and a random CSRF token, signed with HMAC-SHA256 and
stamped by itsdangerous; the client is looked up again on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.settings import ConsoleSettings

SESSION_COOKIE = "cpg_console"
# Before sign-in: the token the sign-in form must send back (login CSRF).
LOGIN_COOKIE = "cpg_console_login"
LOGIN_SECONDS = 3600
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True, slots=True)
class SessionData:
    """What a valid session cookie says."""

    client_id: str
    key_fingerprint: str
    csrf: str


def key_fingerprint(key_hash: str) -> str:
    """A short digest of the stored key hash: changes when the key is rotated."""
    return hashlib.sha256(key_hash.encode("ascii")).hexdigest()[:16]


def tokens_match(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a CSRF token."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


class SessionCodec:
    """Signs and reads the console's cookies with one process-wide secret."""

    def __init__(self, settings: ConsoleSettings) -> None:
        secret = (
            settings.session_secret.get_secret_value()
            if settings.session_secret is not None
            else secrets.token_urlsafe(32)
        )
        self.max_age_seconds = int(settings.session_hours * 3600)
        self.secure = settings.cookie_secure
        self._sessions = URLSafeTimedSerializer(secret, salt="console-session")
        self._logins = URLSafeTimedSerializer(secret, salt="console-login")

    def new_session(self, client_id: str, key_hash: str) -> tuple[str, SessionData]:
        """A cookie value for a fresh session, and what it holds."""
        data = SessionData(client_id, key_fingerprint(key_hash), secrets.token_urlsafe(24))
        cookie = self._sessions.dumps([data.client_id, data.key_fingerprint, data.csrf])
        return cookie, data

    def read_session(self, cookie: str | None) -> SessionData | None:
        """The session in `cookie`, None when absent, tampered with or expired."""
        if not cookie:
            return None
        try:
            value = self._sessions.loads(cookie, max_age=self.max_age_seconds)
        except BadSignature:
            return None
        if not (
            isinstance(value, list) and len(value) == 3 and all(isinstance(v, str) for v in value)
        ):
            return None
        return SessionData(value[0], value[1], value[2])

    def new_login_token(self) -> tuple[str, str]:
        """A cookie value and the token the sign-in form carries (they must match)."""
        token = secrets.token_urlsafe(24)
        return self._logins.dumps(token), token

    def login_token(self, cookie: str | None) -> str | None:
        """The token the sign-in cookie holds, None when absent or expired."""
        if not cookie:
            return None
        try:
            value = self._logins.loads(cookie, max_age=LOGIN_SECONDS)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None
