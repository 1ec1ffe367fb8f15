"""PISTE's two gates: the OAuth2 bearer token and the `cpro-account` technical account.

A missing, unknown, revoked or expired token is a 401; a missing or wrong `cpro-account` is a
403; both with an empty body, as PISTE answers (chorus-pro.md §1.3, ISS #410). An expired
technical-account password is treated as a wrong one (inferred: Chorus makes it expire).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from app.emulator.directory import StructureSpec
from app.emulator.envelope import AccessDenied
from app.emulator.runtime import Emulator

BEARER = "bearer "


@dataclass(frozen=True)
class Caller:
    """The technical account behind a call and the supplier structures it may act for."""

    login: str
    structures: tuple[StructureSpec, ...]

    @property
    def structure_ids(self) -> frozenset[int]:
        """The `idStructureCPP`s of the caller's supplier structures."""
        return frozenset(spec.id for spec in self.structures if spec.id is not None)


def client_is_known(emulator: Emulator, client_id: str, client_secret: str) -> bool:
    """Whether these PISTE client credentials are the configured ones."""
    expected_secret = emulator.settings.client_secret.get_secret_value()
    return hmac.compare_digest(client_id.encode(), emulator.settings.client_id.encode()) & (
        hmac.compare_digest(client_secret.encode(), expected_secret.encode())
    )


def issue_token(emulator: Emulator) -> str:
    """A fresh bearer token, valid for `token_expires_in` seconds of the emulator's clock."""
    token = secrets.token_urlsafe(32)
    now = emulator.now()
    emulator.store.add_token(
        token, now + timedelta(seconds=emulator.settings.token_expires_in), now
    )
    return token


def check_token(emulator: Emulator, authorization: str | None) -> None:
    """Refuse (401) unless the header carries a token issued, unrevoked and unexpired."""
    if not authorization or not authorization.lower().startswith(BEARER):
        raise AccessDenied(401)
    expires_at = emulator.store.token_expiry(authorization[len(BEARER) :].strip())
    if expires_at is None or expires_at <= emulator.now():
        raise AccessDenied(401)


def identify_account(emulator: Emulator, cpro_account: str | None) -> Caller:
    """The caller named by `cpro-account` (base64 of `login:password`), or a 403."""
    if not cpro_account:
        raise AccessDenied(403)
    try:
        decoded = base64.b64decode(cpro_account.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AccessDenied(403) from None
    login, colon, password = decoded.partition(":")
    if not colon:
        raise AccessDenied(403)
    now = emulator.now()
    structures = tuple(
        spec
        for spec in emulator.store.directory.supplier_structures_of(login)
        if spec.technical_account is not None
        and hmac.compare_digest(spec.technical_account.password.encode(), password.encode())
        and (
            spec.technical_account.password_expires_at is None
            or spec.technical_account.password_expires_at > now
        )
    )
    if not structures:
        raise AccessDenied(403)
    return Caller(login=login, structures=structures)
