"""Assemble the emulator's ASGI app: routers, error rendering, fault layer. No logic here."""

from __future__ import annotations

from fastapi import FastAPI

from app.emulator.api import factures, flux, oauth, structures, transverses
from app.emulator.clock import Clock
from app.emulator.config import EmulatorConfig
from app.emulator.control.router import router as control_router
from app.emulator.envelope import ChorusJSONResponse, install_error_handlers
from app.emulator.faults import FaultMiddleware
from app.emulator.runtime import Emulator


def create_emulator_app(
    config: EmulatorConfig | None = None, *, clock: Clock | None = None
) -> FastAPI:
    """A fresh emulator app with its own state; `clock` lets tests control time.

    The state is built here rather than in a lifespan, so the app also works behind
    `httpx.ASGITransport`, which runs no lifespan.
    """
    config = config or EmulatorConfig()
    emulator = Emulator(config, clock or Clock())
    app = FastAPI(
        title="Chorus Pro emulator",
        description="A stateful stand-in for Chorus Pro behind PISTE (supplier side).",
        default_response_class=ChorusJSONResponse,
    )
    app.state.emulator = emulator
    for router in (
        oauth.router,
        factures.router,
        flux.factures_router,
        structures.router,
        transverses.router,
        flux.transverses_router,
        control_router,
    ):
        app.include_router(router)
    install_error_handlers(app, config, emulator.stats)
    app.add_middleware(
        FaultMiddleware,
        faults=emulator.faults,
        stats=emulator.stats,
        revoke_tokens=emulator.store.revoke_tokens,
    )
    return app
