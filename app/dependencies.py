"""Shared request dependencies: the resources the lifespan built, and the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.buyers.directory import BuyerDirectory
from app.chorus.client import ChorusClient
from app.settings import Settings
from app.structures.crypto import PasswordBox


@dataclass(frozen=True, slots=True)
class Resources:
    """What the app builds once at start-up and shares between requests."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    head_revision: str | None
    password_box: PasswordBox
    chorus: ChorusClient
    buyers: BuyerDirectory


def get_resources(request: Request) -> Resources:
    """The app's resources."""
    resources: Resources = request.app.state.resources
    return resources


def get_app_settings(request: Request) -> Settings:
    """The settings this app was built with (tests pass their own)."""
    return get_resources(request).settings


ResourcesDep = Annotated[Resources, Depends(get_resources)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
