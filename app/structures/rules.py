"""What Chorus can take in a structure's fields (login, password, texts): one rule, API and CLI."""

from __future__ import annotations

import re

LOGIN_MAX_LENGTH = 200
PASSWORD_MAX_LENGTH = 500
# Chorus gets `login:password` base64-encoded in the `cpro-account` header: a colon in the login
# splits it in the wrong place, and control characters (NUL among them) are no part of any
# account, so such an account would fail every delivery instead of failing here.
_CONTROL = r"\x00-\x1f\x7f-\x9f"
LOGIN_PATTERN = rf"^[^:{_CONTROL}]{{1,{LOGIN_MAX_LENGTH}}}$"
PASSWORD_PATTERN = rf"^[^{_CONTROL}]{{1,{PASSWORD_MAX_LENGTH}}}$"
_CONTROL_CHARACTER = re.compile(f"[{_CONTROL}]")


def login_problem(login: str) -> str | None:
    """Why `login` cannot be a technical account's login, or None if it can."""
    if not 1 <= len(login) <= LOGIN_MAX_LENGTH:
        return f"A login has 1 to {LOGIN_MAX_LENGTH} characters."
    if ":" in login:
        return "A login cannot contain ':' (Chorus reads 'login:password')."
    if _CONTROL_CHARACTER.search(login):
        return "A login cannot contain control characters."
    return None


def password_problem(password: str) -> str | None:
    """Why `password` cannot be a technical account's password, or None if it can."""
    if not 1 <= len(password) <= PASSWORD_MAX_LENGTH:
        return f"A password has 1 to {PASSWORD_MAX_LENGTH} characters."
    if _CONTROL_CHARACTER.search(password):
        return "A password cannot contain control characters."
    return None


def text_problem(text: str) -> str | None:
    """Why `text` cannot be a structure's free text (control characters, NUL among them)."""
    if _CONTROL_CHARACTER.search(text):
        return "Control characters are not allowed."
    return None
