"""The FastAPI application: resources from the lifespan, routers, error handlers. No logic."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.auth.router import router as clients_router
from app.buyers.router import router as buyers_router
from app.console.router import install_console
from app.db.base import utc_now
from app.errors import install_error_handlers
from app.events.router import router as events_router
from app.formats import conformance
from app.health.router import router as health_router
from app.idempotency.service import purge_expired
from app.invoices.batch import BATCH_PATH
from app.invoices.router import INVOICE_SCHEMAS
from app.invoices.router import router as invoices_router
from app.logging import configure_logging
from app.metrics import router as metrics_router
from app.middleware import (
    AccessLogMiddleware,
    BodySizeLimitMiddleware,
    NulRefusalMiddleware,
    RequestIdMiddleware,
)
from app.problems import Problem, document_shared_problems
from app.resources import Resources, open_resources
from app.settings import Settings, get_settings
from app.structures.members_router import router as structure_members_router
from app.structures.router import router as structures_router

API_TITLE = "Chorus Pro Gateway"
API_VERSION = "1.0.0"
PURGE_INTERVAL_SECONDS = 3600


async def _purge_idempotency_keys_forever(resources: Resources) -> None:
    while True:
        async with resources.sessionmaker() as session, session.begin():
            await purge_expired(session, utc_now())
        await asyncio.sleep(PURGE_INTERVAL_SECONDS)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the gateway's API for `settings` (the environment's by default)."""
    settings = settings or get_settings()
    configure_logging(settings.log)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(settings) as resources:
            app.state.resources = resources
            purger = asyncio.create_task(_purge_idempotency_keys_forever(resources))
            try:
                yield
            finally:
                purger.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await purger
                conformance.shutdown()

    app = FastAPI(
        title=API_TITLE,
        version=API_VERSION,
        summary="Send invoices to Chorus Pro exactly once, and follow them until paid.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(invoices_router)
    app.include_router(events_router)
    app.include_router(buyers_router)
    app.include_router(structures_router)
    app.include_router(structure_members_router)
    app.include_router(clients_router)
    app.include_router(health_router)
    app.include_router(metrics_router)
    install_console(app, settings)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.api.max_body_bytes,
        # The PDF and its attachments, plus the JSON part and the multipart framing.
        max_upload_bytes=max(settings.api.max_pdf_bytes, settings.api.max_attachments_total_bytes)
        + settings.api.max_body_bytes,
        path_limits={BATCH_PATH: (settings.api.max_batch_body_bytes, "API_MAX_BATCH_BODY_BYTES")},
    )
    app.add_middleware(NulRefusalMiddleware)
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    return app


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the hand-read request bodies and the problem schema."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        routes=app.routes,
    )
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for model in (*INVOICE_SCHEMAS, Problem):
        generated = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(generated.pop("$defs", {}))
        schemas[model.__name__] = generated
    document_shared_problems(spec)
    app.openapi_schema = spec
    return spec
