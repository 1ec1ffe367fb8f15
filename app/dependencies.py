"""Shared request dependencies: the resources the lifespan built, and the settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.resources import Resources
from app.settings import Settings


# `async def` so FastAPI calls them inline instead of in its thread pool.
async def get_resources(request: Request) -> Resources:
    """The app's resources."""
    resources: Resources = request.app.state.resources
    return resources


async def get_app_settings(request: Request) -> Settings:
    """The settings this app was built with (tests pass their own)."""
    settings: Settings = request.app.state.resources.settings
    return settings


ResourcesDep = Annotated[Resources, Depends(get_resources)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
