"""The Chorus Pro technical account a call acts as, sent in the `cpro-account` header."""

from __future__ import annotations

import base64

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class TechnicalAccount(BaseModel):
    """A Chorus Pro technical account ("compte technique"), not the PISTE application."""

    model_config = ConfigDict(frozen=True)

    login: str = Field(min_length=1)
    password: SecretStr

    @field_validator("login")
    @classmethod
    def _login_has_no_colon(cls, value: str) -> str:
        # The header is `login:password`; a colon in the login would make it ambiguous.
        if ":" in value:
            raise ValueError("a technical account login cannot contain ':'")
        return value

    @property
    def cpro_account(self) -> str:
        """The `cpro-account` header value: base64 of the UTF-8 text `login:password`."""
        raw = f"{self.login}:{self.password.get_secret_value()}".encode()
        return base64.b64encode(raw).decode("ascii")
