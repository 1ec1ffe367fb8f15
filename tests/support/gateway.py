"""The gateway app in-process for a test, and the emulator's demo technical accounts registered.

Every test package reaches the gateway and registers suppliers through these two, so a change
to how the app starts or what a structure needs is made once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from pydantic import SecretStr
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.crypto import PasswordBox, new_key
from app.domain.invoice import Address
from app.main import create_app
from app.settings import Settings
from app.structures.models import SupplierStructure
from app.structures.service import add_structure
from tests.builders import OTHER_SUPPLIER_SIRET, SUPPLIER_SIRET, SUPPLIER_VAT_NUMBER

# One key per test process: what the gateway under test encrypts Chorus passwords with.
TEST_SECRETS_KEY = SecretStr(new_key())

# The emulator's demo technical accounts (app/emulator/data/directory.json).
DEMO_ACCOUNTS = {
    SUPPLIER_SIRET: ("TECH_1_41234567010000@cpro.fr", "emulator-demo-1"),
    OTHER_SUPPLIER_SIRET: ("TECH_1_52345678810009@cpro.fr", "emulator-demo-2"),
}
# What an EN 16931 document needs of them (the default channel): an address with its country
# and their VAT numbers (FR + key + SIREN).
DEMO_ADDRESSES = {
    SUPPLIER_SIRET: Address("12 rue des Fournisseurs", None, "69002", "Lyon", "FR"),
    OTHER_SUPPLIER_SIRET: Address("5 quai des Prestataires", None, "33000", "Bordeaux", "FR"),
}
DEMO_VAT_NUMBERS = {SUPPLIER_SIRET: SUPPLIER_VAT_NUMBER, OTHER_SUPPLIER_SIRET: "FR31523456788"}


@asynccontextmanager
async def gateway_client(
    settings: Settings, base_url: str = "http://gateway.test", **api: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway app built from `settings` with these API settings changed, its lifespan run,
    reached through ASGITransport."""
    if api:
        settings = settings.model_copy(update={"api": settings.api.model_copy(update=api)})
    app = create_app(settings)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as client,
    ):
        yield client


async def register_demo_suppliers(
    session: AsyncSession,
    box: PasswordBox | None = None,
    sirets: Iterable[str] = tuple(DEMO_ACCOUNTS),
) -> None:
    """Register these demo suppliers' structures, in the caller's transaction.

    Those already registered are left alone; each gets its address and VAT number, since an
    invoice for a supplier without them is refused.
    """
    box = box or PasswordBox([TEST_SECRETS_KEY.get_secret_value()])
    for siret in sirets:
        if await session.get(SupplierStructure, siret) is None:
            login, password = DEMO_ACCOUNTS[siret]
            await add_structure(
                session,
                box,
                siret=siret,
                login=login,
                password=SecretStr(password),
                address=DEMO_ADDRESSES[siret],
                vat_number=DEMO_VAT_NUMBERS[siret],
            )


async def set_demo_structure(sessionmaker: async_sessionmaker[AsyncSession], **values: Any) -> None:
    """Change the demo supplier's structure straight in the database (as another process would)."""
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(SupplierStructure)
            .where(SupplierStructure.siret == SUPPLIER_SIRET)
            .values(**values)
        )
