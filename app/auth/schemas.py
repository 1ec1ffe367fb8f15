"""API clients on the wire: a key goes out once, at creation or rotation; hashes never."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from app.auth.scopes import Scope

# Printable text only: names show in logs, the console and `gateway clients list`.
ClientName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]
SiretText = Annotated[str, StringConstraints(max_length=32, pattern=r"^[0-9 ]+$")]


class ClientIn(BaseModel):
    """A new API client: who it is, what it may do, for which suppliers, until when."""

    model_config = ConfigDict(extra="forbid")

    name: ClientName = Field(examples=["sage-erp"])
    scopes: list[Scope] = Field(min_length=1, examples=[["invoices:write", "invoices:read"]])
    supplier_sirets: list[SiretText] = Field(
        default_factory=list, max_length=1000, examples=[["41234567010000"]]
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the key stops working (none: it does not expire)."
    )


class ClientOut(BaseModel):
    """An API client as operators see it: never its key, never its hash."""

    id: str = Field(examples=["cli_01JDX3M2E8Q7ZK5VY4T1N6B9CR"])
    name: str
    key_prefix: str = Field(description="The key's first characters, to tell keys apart.")
    scopes: list[Scope]
    supplier_sirets: list[str]
    status: Literal["active", "expired", "revoked"]
    created_at: datetime
    expires_at: datetime | None
    rotated_at: datetime | None
    revoked_at: datetime | None


class ClientKeyOut(ClientOut):
    """An API client with its new key, shown this once."""

    key: str = Field(description="The API key; the gateway keeps only its hash.")
