"""Dependencies shared by the routers: the running emulator, the authenticated caller."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Header, Request
from pydantic import BaseModel

from app.emulator.auth import Caller, check_token, identify_account
from app.emulator.envelope import MalformedRequest
from app.emulator.flux.service import settle_flux
from app.emulator.runtime import Emulator
from app.emulator.schemas import unknown_fields


async def get_emulator(request: Request) -> Emulator:
    """The emulator instance this app was built with, its due flux processed.

    Flux processing has no background task: every call first settles the flux whose time has
    come, so whatever a call reads (reports, searches, the control API) is as of now.
    """
    # `async` although nothing is awaited: FastAPI runs a plain `def` dependency in its
    # threadpool, where calls arriving together integrated one flux twice and iterated the
    # store while another call changed it. On the event loop, one call settles at a time.
    emulator = cast(Emulator, request.app.state.emulator)
    settle_flux(emulator)
    return emulator


EmulatorDep = Annotated[Emulator, Depends(get_emulator)]
AuthorizationHeader = Annotated[str | None, Header()]
CproAccountHeader = Annotated[str | None, Header(alias="cpro-account")]


async def require_caller(
    emulator: EmulatorDep,
    authorization: AuthorizationHeader = None,
    cpro_account: CproAccountHeader = None,
) -> Caller:
    """The technical account behind a call holding a valid token (else 401, then 403)."""
    check_token(emulator, authorization)
    return identify_account(emulator, cpro_account)


CallerDep = Annotated[Caller, Depends(require_caller)]


def ensure_known_fields(emulator: Emulator, body: BaseModel) -> None:
    """Refuse (400) a body carrying fields Chorus does not define, if the setting asks to."""
    unknown = unknown_fields(body)
    if unknown and emulator.settings.reject_unknown_fields:
        raise MalformedRequest(f"Requête invalide - champ(s) inconnu(s) : {', '.join(unknown)}")
