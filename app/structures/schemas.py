"""Supplier structures on the wire; passwords go in, never out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from app.api_types import SIRET_PATTERN
from app.domain.invoice import VatRegime
from app.invoices.channels import Channel
from app.structures.rules import (
    LOGIN_PATTERN,
    PASSWORD_PATTERN,
    login_problem,
    password_problem,
    text_problem,
)


def _checked_login(login: str) -> str:
    problem = login_problem(login)
    if problem:
        raise ValueError(problem)
    return login


def _checked_text(text: str | None) -> str | None:
    problem = text_problem(text) if text is not None else None
    if problem:
        raise ValueError(problem)
    return text


def _checked_password(password: SecretStr) -> SecretStr:
    problem = password_problem(password.get_secret_value())
    if problem:
        raise ValueError(problem)
    return password


# The patterns only document the rule (pydantic's pattern errors would say less than ours).
Login = Annotated[
    str,
    AfterValidator(_checked_login),
    Field(json_schema_extra={"pattern": LOGIN_PATTERN}, examples=["TECH_1_41234567010000@cpro.fr"]),
]
Password = Annotated[
    SecretStr,
    AfterValidator(_checked_password),
    Field(json_schema_extra={"pattern": PASSWORD_PATTERN}),
]


class StructureAddress(BaseModel):
    """The structure's registered postal address: the seller's on invoices that give none."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    line1: Annotated[str | None, AfterValidator(_checked_text)] = Field(
        default=None, max_length=200, examples=["1 rue de la Paix"]
    )
    line2: Annotated[str | None, AfterValidator(_checked_text)] = Field(
        default=None, max_length=200
    )
    postal_code: Annotated[str | None, AfterValidator(_checked_text)] = Field(
        default=None, max_length=16, examples=["75002"]
    )
    city: Annotated[str | None, AfterValidator(_checked_text)] = Field(
        default=None, max_length=100, examples=["Paris"]
    )
    country_code: Annotated[str | None, AfterValidator(_checked_text)] = Field(
        default=None, max_length=8, description="ISO 3166-1 alpha-2.", examples=["FR"]
    )


class StructureIn(BaseModel):
    """A supplier structure and its Chorus technical account."""

    model_config = ConfigDict(extra="forbid")

    siret: str = Field(
        max_length=32,
        examples=["41234567010000"],
        # The canonical form; spaces, dots and dashes are removed before the checksum is checked.
        json_schema_extra={"pattern": SIRET_PATTERN},
    )
    login: Login
    password: Password
    vat_regime: VatRegime | None = Field(
        default=None,
        description="The VAT regime (Chorus typeTva) of this supplier's invoices that state none.",
    )
    vat_exemption_reason: Annotated[str | None, AfterValidator(_checked_text)] = Field(
        default=None,
        max_length=255,
        description="The exemption reason (motifExonerationTva) those invoices default to.",
    )
    address: StructureAddress | None = None
    vat_number: Annotated[str | None, AfterValidator(_checked_text)] = Field(
        default=None,
        max_length=32,
        description="The supplier's French VAT number (BT-31) for invoices that state none.",
        examples=["FR40412345670"],
    )
    delivery_format: Channel | None = Field(
        default=None,
        description="How this supplier's invoices go to Chorus, instead of "
        "CHORUS_DELIVERY_FORMAT (README, Delivery channels).",
    )


class StructureSettingsIn(BaseModel):
    """Invoice defaults of a registered structure; a field sent replaces (null clears it)."""

    model_config = ConfigDict(extra="forbid")

    vat_number: Annotated[str | None, AfterValidator(_checked_text)] = Field(
        default=None, max_length=32, examples=["FR40412345670"]
    )
    delivery_format: Channel | None = Field(
        default=None, description="null: follow CHORUS_DELIVERY_FORMAT."
    )


class PasswordIn(BaseModel):
    """A new technical-account password (and, optionally, login)."""

    model_config = ConfigDict(extra="forbid")

    password: Password
    login: Login | None = None


class StructureOut(BaseModel):
    """A registered structure, without its password."""

    siret: str
    login: str
    chorus_structure_id: int | None
    password_expires_at: datetime | None
    paused_at: datetime | None
    paused_reason: str | None
    vat_regime: str | None = None
    vat_exemption_reason: str | None = None
    address: StructureAddress | None = None
    vat_number: str | None = None
    delivery_format: Channel | None = None
    created_at: datetime
    updated_at: datetime
