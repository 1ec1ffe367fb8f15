"""Operator endpoints for API clients and their keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from app.auth import service
from app.auth.dependencies import ClientOperatorDep, OperatorDep
from app.auth.models import ApiClient
from app.auth.schemas import ClientIn, ClientKeyOut, ClientOut
from app.db.session import SessionDep
from app.dependencies import ResourcesDep
from app.problems import problem_responses

router = APIRouter(prefix="/v1/clients", tags=["clients"])

ClientId = Annotated[str, Path(max_length=40, pattern=r"^cli_[0-9A-Z]{26}$")]
# A key is shown once; no cache or proxy may keep the answer that carries it.
NO_STORE = {"Cache-Control": "no-store"}


def _out(client: ApiClient) -> ClientOut:
    return ClientOut.model_validate({**_fields(client), "status": service.client_status(client)})


def _with_key(client: ApiClient, key: str) -> ClientKeyOut:
    return ClientKeyOut.model_validate(
        {**_fields(client), "status": service.client_status(client), "key": key}
    )


def _fields(client: ApiClient) -> dict[str, object]:
    return {name: getattr(client, name) for name in ClientOut.model_fields if name != "status"}


@router.get(
    "",
    response_model=list[ClientOut],
    summary="List API clients",
    responses=problem_responses(401, 403, 422),
)
async def list_clients(session: SessionDep, caller: OperatorDep) -> list[ClientOut]:
    """Every client with its scopes, suppliers and status; keys and hashes are never listed."""
    return [_out(client) for client in await service.list_clients(session)]


@router.post(
    "",
    status_code=201,
    response_model=ClientKeyOut,
    summary="Create an API client and its key",
    responses=problem_responses(400, 401, 403, 409, 422),
)
async def create_client(
    body: ClientIn, session: SessionDep, response: Response, caller: OperatorDep
) -> ClientKeyOut:
    """The key is in this answer only; store it now."""
    client, key = await service.create_client(
        session,
        name=body.name,
        scopes=body.scopes,
        supplier_sirets=body.supplier_sirets,
        expires_at=body.expires_at,
    )
    response.headers.update(NO_STORE)
    return _with_key(client, key)


@router.delete(
    "/{client_id}",
    status_code=204,
    summary="Revoke an API client",
    responses=problem_responses(401, 404, 422),
)
async def revoke_client(
    client_id: ClientId, session: SessionDep, resources: ResourcesDep, caller: ClientOperatorDep
) -> Response:
    """Its key is refused at once by this process, by others within API_AUTH_CACHE_SECONDS."""
    await service.revoke_client(session, await service.get_client(session, client_id))
    resources.callers.forget_after_commit(session, [client_id])
    return Response(status_code=204)


@router.post(
    "/{client_id}/rotate",
    response_model=ClientKeyOut,
    summary="Give an API client a new key",
    responses=problem_responses(401, 404, 409, 422),
)
async def rotate_client(
    client_id: ClientId,
    session: SessionDep,
    resources: ResourcesDep,
    response: Response,
    caller: ClientOperatorDep,
) -> ClientKeyOut:
    """The new key is in this answer only; the old one stops like a revoked one."""
    client, key = await service.rotate_client(session, await service.get_client(session, client_id))
    resources.callers.forget_after_commit(session, [client_id])
    response.headers.update(NO_STORE)
    return _with_key(client, key)
