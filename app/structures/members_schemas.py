"""Structure members, attachment requests and the audit list on the wire; keys go out once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from app.auth.scopes import Scope
from app.structures.membership_rules import Role, State

MemberName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=80, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]
Note = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")
]


MemberScope = Literal[Scope.INVOICES_WRITE, Scope.INVOICES_READ]


def _invoicing() -> list[MemberScope]:
    return [Scope.INVOICES_WRITE, Scope.INVOICES_READ]


class MembershipOut(BaseModel):
    """A client attached to a structure, or asking to be."""

    client_id: str = Field(examples=["cli_01JDX3M2E8Q7ZK5VY4T1N6B9CR"])
    name: str
    role: Role = Field(description="`principal`: the gestionnaire principal; else `member`.")
    state: State
    key_issued: bool = Field(
        description="The key was issued by this structure: its principal may rotate or revoke it."
    )
    key_prefix: str
    scopes: list[Scope]
    client_status: Literal["active", "expired", "revoked"]
    note: str | None = Field(description="What the requester wrote with its request.")
    requested_at: datetime | None
    decided_at: datetime | None = Field(description="When it was approved, refused or detached.")


class MemberKeyIn(BaseModel):
    """A new member key: a client attached to this structure from the start."""

    model_config = ConfigDict(extra="forbid")

    name: MemberName = Field(
        examples=["compta"], description="Stored as `<siret>/<name>`, unique per structure."
    )
    scopes: list[MemberScope] = Field(default_factory=_invoicing, min_length=1)
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the key stops working (none: it does not expire)."
    )


class MemberKeyOut(MembershipOut):
    """A member with its new key, shown this once."""

    key: str = Field(description="The API key; the gateway keeps only its hash.")


class AttachIn(BaseModel):
    """How an operator attaches an existing client."""

    model_config = ConfigDict(extra="forbid")

    role: Role = Field(
        default=Role.MEMBER,
        description="`principal` names it principal; the first client attached leads anyway.",
    )


class PrincipalIn(BaseModel):
    """Who becomes the structure's principal."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(max_length=40, pattern=r"^cli_[0-9A-Z]{26}$")


class RequestIn(BaseModel):
    """A request to be attached to a structure."""

    model_config = ConfigDict(extra="forbid")

    note: Note | None = Field(default=None, examples=["Cabinet Durand, expert-comptable"])


class AuditActor(BaseModel):
    """Who acted: an API client, or the command line (no client id)."""

    client_id: str | None
    name: str


class AuditOut(BaseModel):
    """One change to a structure's members, keys or technical account."""

    position: int = Field(description="Pass the last one seen as `after`.")
    at: datetime
    action: str = Field(examples=["structure.member_attached"], description="The event type.")
    actor: AuditActor
    client_id: str | None = Field(description="The client acted upon.")
    detail: dict[str, Any] | None


class AuditPage(BaseModel):
    """Audit entries oldest first; pass `next_after` as `after` to continue."""

    items: list[AuditOut]
    next_after: int
