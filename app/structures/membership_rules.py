"""Pure rules of structure membership (Chorus Pro's rattachement): roles, states, who leads."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A member's role: the principal manager (gestionnaire principal) or a plain member."""

    PRINCIPAL = "principal"
    MEMBER = "member"


class State(StrEnum):
    """Where an attachment stands; only `approved` gives any right."""

    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    DETACHED = "detached"


PRINCIPAL = Role.PRINCIPAL.value
APPROVED = State.APPROVED.value


def role_on_attach(*, has_principal: bool, wanted: Role) -> Role:
    """The first client attached to a structure becomes its principal, as on Chorus Pro."""
    return Role.PRINCIPAL if not has_principal else wanted


def detach_problem(*, role: Role, other_members: int) -> str | None:
    """Why this member cannot leave now, or None: a structure with members keeps a principal."""
    if role is Role.PRINCIPAL and other_members > 0:
        return (
            "The principal cannot leave while other members remain: "
            "pass the principal role to one of them first."
        )
    return None


def request_problem(state: State | None) -> str | None:
    """Why a client cannot ask to join, or None (a refused or detached client may ask again)."""
    if state is State.APPROVED:
        return "This client is already attached to the structure."
    return None
