"""Supplier structures on the wire; passwords go in, never out."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class StructureIn(BaseModel):
    """A supplier structure and its Chorus technical account."""

    model_config = ConfigDict(extra="forbid")

    siret: str = Field(max_length=32, examples=["41234567010000"])
    login: str = Field(min_length=1, max_length=200, examples=["TECH_1_41234567010000@cpro.fr"])
    password: SecretStr = Field(min_length=1, max_length=500)


class PasswordIn(BaseModel):
    """A new technical-account password (and, optionally, login)."""

    model_config = ConfigDict(extra="forbid")

    password: SecretStr = Field(min_length=1, max_length=500)
    login: str | None = Field(default=None, min_length=1, max_length=200)


class StructureOut(BaseModel):
    """A registered structure, without its password."""

    siret: str
    login: str
    chorus_structure_id: int | None
    password_expires_at: datetime | None
    paused_at: datetime | None
    paused_reason: str | None
    created_at: datetime
    updated_at: datetime
