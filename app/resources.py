"""What a process builds once and shares: engine, sessions, Chorus client, secrets box.

The API's lifespan and the worker both open `open_resources`, so they are built one way.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.auth.cache import CallerCache
from app.buyers.directory import BuyerDirectory
from app.chorus.client import ChorusClient
from app.crypto import PasswordBox, load_password_box
from app.db.engine import create_engine, create_sessionmaker
from app.db.migrations import head_revision
from app.events.transport import webhook_client
from app.invoices.parties import DirectoryAccess
from app.invoices.suppliers import SupplierCache
from app.settings import Settings


@dataclass(frozen=True, slots=True)
class Resources:
    """Shared, long-lived objects of one process."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    head_revision: str | None
    password_box: PasswordBox
    chorus: ChorusClient
    buyers: BuyerDirectory
    # Outbound HTTP for webhooks (not Chorus: that goes through `chorus`), guarded against SSRF.
    http: httpx.AsyncClient
    callers: CallerCache
    suppliers: SupplierCache


def directory_access(resources: Resources) -> DirectoryAccess:
    """Chorus's buyer directory as renderings use it (the API's and the worker's)."""
    return DirectoryAccess(
        buyers=resources.buyers,
        password_box=resources.password_box,
        timeout_seconds=resources.settings.api.online_validation_timeout_seconds,
    )


@contextlib.asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    """Build the resources for `settings`, and close them on exit."""
    engine = create_engine(settings.database)
    chorus = ChorusClient(
        settings.chorus,
        duplicate_codes=settings.chorus.duplicate_code_set,
        no_result_codes=settings.chorus.no_result_code_set,
    )
    http = webhook_client(
        timeout_seconds=settings.webhook.timeout_seconds,
        allow_private=settings.webhook.allow_private_targets,
    )
    try:
        yield Resources(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            head_revision=head_revision(),
            password_box=load_password_box(settings.chorus),
            chorus=chorus,
            buyers=BuyerDirectory(
                chorus,
                ttl_seconds=settings.chorus.directory_cache_seconds,
                max_entries=settings.chorus.directory_cache_size,
            ),
            http=http,
            callers=CallerCache(settings.api.auth_cache_seconds),
            suppliers=SupplierCache(settings.api.supplier_cache_seconds),
        )
    finally:
        await http.aclose()
        await chorus.aclose()
        await engine.dispose()
