"""Shared request dependencies: the resources the lifespan built, the settings, and the
lookups that read apart from the request's transaction."""

from __future__ import annotations

from collections.abc import Collection
from functools import partial
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.chorus.accounts import TechnicalAccount
from app.crypto import PasswordBox
from app.invoices.parties import DirectoryAccess
from app.invoices.service import SupplierLookup, SupplierProfile, find_supplier
from app.resources import Resources, directory_access
from app.settings import Settings
from app.structures.accounts import AccountLookup, account_for_suppliers


# `async def` so FastAPI calls them inline instead of in its thread pool.
async def get_resources(request: Request) -> Resources:
    """The app's resources."""
    resources: Resources = request.app.state.resources
    return resources


async def get_app_settings(request: Request) -> Settings:
    """The settings this app was built with (tests pass their own)."""
    settings: Settings = request.app.state.resources.settings
    return settings


# Lookups made during validation read apart from the request's transaction, each in a short
# session closed at once: in it, SQLite's BEGIN IMMEDIATE would hold the write lock through the
# whole validation, and a PostgreSQL connection would be held across the Chorus calls.


async def read_supplier(
    sessionmaker: async_sessionmaker[AsyncSession], siret: str
) -> SupplierProfile | None:
    """`find_supplier` in a short read-only session of its own."""
    async with sessionmaker() as session:
        return await find_supplier(session, siret)


async def read_account(
    sessionmaker: async_sessionmaker[AsyncSession],
    box: PasswordBox,
    sirets: Collection[str] | None,
) -> TechnicalAccount | None:
    """`account_for_suppliers` in a short read-only session of its own."""
    async with sessionmaker() as session:
        return await account_for_suppliers(session, box, sirets)


async def get_supplier_lookup(request: Request) -> SupplierLookup:
    """Registered suppliers' profiles, remembered by the process's cache, else read apart."""
    resources: Resources = request.app.state.resources
    return partial(resources.suppliers.find, partial(read_supplier, resources.sessionmaker))


async def get_account_lookup(request: Request) -> AccountLookup:
    """Technical accounts for gateway-initiated Chorus calls, read apart."""
    resources: Resources = request.app.state.resources
    return partial(read_account, resources.sessionmaker, resources.password_box)


async def get_directory_access(request: Request) -> DirectoryAccess:
    """Chorus's buyer directory as renderings use it."""
    return directory_access(request.app.state.resources)


ResourcesDep = Annotated[Resources, Depends(get_resources)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SupplierLookupDep = Annotated[SupplierLookup, Depends(get_supplier_lookup)]
AccountLookupDep = Annotated[AccountLookup, Depends(get_account_lookup)]
DirectoryDep = Annotated[DirectoryAccess, Depends(get_directory_access)]
