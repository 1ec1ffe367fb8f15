"""Shared fixtures: a migrated database per backend (SQLite and PostgreSQL), the app, API keys.

Every database test runs twice, once per backend. Each backend's schema is built once per run
by `alembic upgrade head`; tables are emptied after each test, so tests can commit for real
(concurrency tests need that) and still start clean.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.auth.scopes import Scope
from app.auth.service import create_client
from app.db.base import Base
from app.db.engine import create_engine, create_sessionmaker
from app.db.migrations import upgrade_to_head
from app.emulator.main import create_emulator_app
from app.emulator.settings import EmulatorSettings
from app.settings import ApiSettings, ChorusSettings, DatabaseSettings, Settings
from tests.builders import SUPPLIER_SIRET
from tests.support.gateway import TEST_SECRETS_KEY, gateway_client, register_demo_suppliers
from tests.support.scheduling import pytest_collection_modifyitems  # noqa: F401 - a hook
from tests.support.servers import serve_app

# A gateway whose worker delivers to the served emulator, for the tests of every package that
# need one.
pytest_plugins = ["tests.support.delivery"]

# Where PostgreSQL is; each run creates (and drops) its own database there.
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, built_databases: BuiltDatabases) -> str:
    """A migrated, empty database of each backend, for the whole run."""
    return built_databases.url(request.param)


class BuiltDatabases:
    """Each backend's database, built on first use and kept until the end of the process.

    Not in `database_url` itself: pytest rebuilds a parametrized session fixture whenever the
    parameter changes, and a test process of a distributed run changes backend with each module
    (it runs one module on SQLite then PostgreSQL, then the next module), so every module built
    both databases anew.
    """

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.urls: dict[str, str] = {}

    def url(self, backend: str) -> str:
        if backend not in self.urls:
            self.urls[backend] = self._build(backend)
        return self.urls[backend]

    def _build(self, backend: str) -> str:
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{self.tmp_path_factory.mktemp('db') / 'gateway.db'}"
        else:
            name = f"gateway_test_{uuid.uuid4().hex[:12]}"
            asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
            admin = make_url(POSTGRES_ADMIN_URL)
            url = admin.set(database=name).render_as_string(hide_password=False)
        upgrade_to_head(url)
        return url

    def drop(self) -> None:
        if "postgresql" in self.urls:
            name = make_url(self.urls["postgresql"]).database
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def built_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltDatabases]:
    """The databases `database_url` hands out; PostgreSQL's is dropped at the end."""
    databases = BuiltDatabases(tmp_path_factory)
    try:
        yield databases
    finally:
        databases.drop()


async def _admin(statement: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def served_emulator() -> Iterator[str]:
    """The Chorus Pro emulator served over real HTTP for the whole run (manual lifecycle)."""
    with serve_app(create_emulator_app(EmulatorSettings(lifecycle_mode="manual"))) as url:
        yield url


@pytest_asyncio.fixture
async def emulator(served_emulator: str) -> AsyncIterator[httpx.AsyncClient]:
    """The emulator's control API; the emulator is reset after each test."""
    async with httpx.AsyncClient(base_url=served_emulator) as control:
        yield control
        await control.post("/_emulator/reset")


def emulator_chorus_settings(base_url: str, **overrides: object) -> ChorusSettings:
    """Chorus settings aiming at an emulator served at `base_url`."""
    return ChorusSettings(
        target="emulator",
        token_url=f"{base_url}/api/oauth/token",
        api_url=base_url,
        secrets_key=TEST_SECRETS_KEY,
        **overrides,  # type: ignore[arg-type]
    )


@pytest.fixture
def backend(database_url: str) -> str:
    """'sqlite' or 'postgresql'."""
    return make_url(database_url).get_backend_name()


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings for a test: the test database, defaults elsewhere."""
    return Settings(
        database=DatabaseSettings(url=database_url),
        api=ApiSettings(max_body_bytes=64 * 1024, max_pdf_bytes=64 * 1024, online_validation=False),
        chorus=ChorusSettings(secrets_key=TEST_SECRETS_KEY),
    )


@pytest_asyncio.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """An engine on the test database; tables are emptied after the test."""
    engine = create_engine(settings.database)
    yield engine
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(table.delete())
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on the test database."""
    return create_sessionmaker(engine)


@pytest_asyncio.fixture
async def http(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the gateway app in-process (lifespan run)."""
    async with gateway_client(settings) as client:
        yield client


KeyFactory = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
def make_key(sessionmaker: async_sessionmaker[AsyncSession]) -> KeyFactory:
    """Create an API client; returns the Authorization header for its key."""

    async def make(
        *,
        scopes: tuple[Scope, ...] = (Scope.INVOICES_WRITE, Scope.INVOICES_READ),
        suppliers: tuple[str, ...] = (SUPPLIER_SIRET,),
        name: str | None = None,
    ) -> dict[str, str]:
        async with sessionmaker() as session, session.begin():
            _, key = await create_client(
                session,
                name=name or f"client-{uuid.uuid4().hex[:8]}",
                scopes=scopes,
                supplier_sirets=suppliers,
            )
        return {"Authorization": f"Bearer {key}"}

    return make


@pytest_asyncio.fixture
async def auth(make_key: KeyFactory) -> dict[str, str]:
    """Headers of an ERP client that may write and read for the demo supplier."""
    return await make_key()


@pytest_asyncio.fixture
async def operator(make_key: KeyFactory) -> dict[str, str]:
    """Headers of an operator (no supplier of their own)."""
    return await make_key(scopes=(Scope.OPERATOR,), suppliers=())


@pytest_asyncio.fixture
async def registered_suppliers(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Both demo suppliers' structures (unless a test registered them its own way first)."""
    async with sessionmaker() as session, session.begin():
        await register_demo_suppliers(session)
