"""Encrypting secrets at rest: technical-account passwords and webhook signing secrets (Fernet:
AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from app.settings import ChorusSettings

DEV_KEY_FILE = Path(".gateway-secrets.key")


class SecretsKeyMissing(RuntimeError):
    """No key to encrypt technical-account passwords with."""


class PasswordBox:
    """Encrypts with the newest key, decrypts with any configured key (rotation-friendly)."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise SecretsKeyMissing("no Fernet key given")
        self._fernet = MultiFernet([Fernet(key.encode("ascii")) for key in keys])

    def __repr__(self) -> str:
        return "PasswordBox(<keys hidden>)"

    def seal(self, password: SecretStr) -> str:
        """The ciphertext of `password`, safe to store."""
        return self._fernet.encrypt(password.get_secret_value().encode("utf-8")).decode("ascii")

    def open(self, ciphertext: str) -> SecretStr:
        """The password sealed in `ciphertext`."""
        try:
            return SecretStr(self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8"))
        except InvalidToken as exc:
            raise SecretsKeyMissing(
                "a stored password cannot be decrypted with CHORUS_SECRETS_KEY (wrong key?)"
            ) from exc


def _split(keys: str) -> list[str]:
    return [key.strip() for key in keys.split(",") if key.strip()]


def new_key() -> str:
    """A fresh Fernet key."""
    return Fernet.generate_key().decode("ascii")


def load_password_box(settings: ChorusSettings) -> PasswordBox:
    """The box for the configured keys; the emulator target makes a local key file if needed."""
    if settings.secrets_key is not None:
        return PasswordBox(_split(settings.secrets_key.get_secret_value()))
    key_file = settings.secrets_key_file
    if settings.target == "emulator":
        key_file = key_file or DEV_KEY_FILE
        if not key_file.exists():
            # Created owner-only; it protects emulator demo passwords, never real ones.
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(new_key() + "\n")
    if key_file is None:
        raise SecretsKeyMissing(
            f"CHORUS_TARGET={settings.target} needs CHORUS_SECRETS_KEY or CHORUS_SECRETS_KEY_FILE"
        )
    return PasswordBox(_split(key_file.read_text(encoding="ascii")))
