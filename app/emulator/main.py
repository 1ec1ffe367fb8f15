"""Assemble the emulator's ASGI app: routers, error rendering, fault layer. No logic here."""

from __future__ import annotations

from fastapi import FastAPI

from app.emulator.clock import Clock
from app.emulator.control.router import router as control_router
from app.emulator.envelope import ChorusJSONResponse, install_error_handlers
from app.emulator.factures.router import router as factures_router
from app.emulator.faults import FaultMiddleware
from app.emulator.flux.router import reports_router as flux_reports_router
from app.emulator.flux.router import router as flux_router
from app.emulator.oauth.router import router as oauth_router
from app.emulator.runtime import Emulator
from app.emulator.settings import EmulatorSettings
from app.emulator.structures.router import router as structures_router
from app.emulator.transverses.router import router as transverses_router


def create_emulator_app(
    settings: EmulatorSettings | None = None, *, clock: Clock | None = None
) -> FastAPI:
    """A fresh emulator app with its own state; `clock` lets tests control time.

    The state is built here rather than in a lifespan, so the app also works behind
    `httpx.ASGITransport`, which runs no lifespan.
    """
    settings = settings or EmulatorSettings()
    emulator = Emulator(settings, clock or Clock())
    app = FastAPI(
        title="Chorus Pro emulator",
        description="A stateful stand-in for Chorus Pro behind PISTE (supplier side).",
        default_response_class=ChorusJSONResponse,
    )
    app.state.emulator = emulator
    for router in (
        oauth_router,
        factures_router,
        flux_router,
        structures_router,
        transverses_router,
        flux_reports_router,
        control_router,
    ):
        app.include_router(router)
    install_error_handlers(app, settings, emulator.stats)
    app.add_middleware(
        FaultMiddleware,
        faults=emulator.faults,
        stats=emulator.stats,
        revoke_tokens=emulator.store.revoke_tokens,
    )
    return app
