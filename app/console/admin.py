"""Operator pages: supplier structures, API clients, webhooks. Each action calls one service.

A secret made here (an API key, a webhook signing secret) is shown once, in the answer to the
form that made it, never in a URL; refreshing the page does not show it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import AnyUrl, SecretStr, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as clients
from app.auth.scopes import Scope
from app.console import queries
from app.console.access import OperatorDep, Viewer, WriterDep
from app.console.labels import refusal
from app.console.templating import render
from app.console.webhooks import send_test_event
from app.db.base import utc_now
from app.db.session import SessionDep
from app.dependencies import ResourcesDep
from app.domain.invoice import Address
from app.errors import GatewayError
from app.events import subscriptions
from app.health.service import PASSWORD_WARNING
from app.invoices.service import supplier_profile
from app.resources import Resources
from app.structures import service as structures
from app.structures.audit import Actor

router = APIRouter()
Field = Annotated[str, Form(max_length=300)]


@dataclass(frozen=True, slots=True)
class Feedback:
    """What the answer to a form says above its page; a secret it made is shown this once."""

    notice: str | None = None
    error: str | None = None
    status: int = 200
    secret: tuple[str, str] | None = None  # whose, and the secret itself

    @classmethod
    def refused(cls, exc: GatewayError) -> Feedback:
        """A service's refusal, worded for the page."""
        return cls(error=refusal(exc), status=exc.status)


NO_FEEDBACK = Feedback()


def _render(
    request: Request, viewer: Viewer, page: str, feedback: Feedback, context: dict[str, Any]
) -> Response:
    """`page`.html, its navigation tab lit, with the feedback above it."""
    context |= {"viewer": viewer, "notice": feedback.notice, "error": feedback.error, "nav": page}
    return render(request, f"{page}.html", context, feedback.status)


async def _structures_page(
    request: Request,
    viewer: Viewer,
    session: SessionDep,
    feedback: Feedback = NO_FEEDBACK,
    form: dict[str, str] | None = None,
) -> Response:
    now = utc_now()
    context: dict[str, Any] = {
        "structures": await structures.list_structures(session),
        "now": now,
        "soon": now + PASSWORD_WARNING,
        "form": form or {},
    }
    return _render(request, viewer, "structures", feedback, context)


@router.get("/structures", response_class=HTMLResponse)
async def structures_page(request: Request, viewer: OperatorDep, session: SessionDep) -> Response:
    """Every structure, its expiry and pause, and the forms to act on them."""
    return await _structures_page(request, viewer, session)


@router.post("/structures", response_class=HTMLResponse)
async def register_structure(
    request: Request,
    viewer: WriterDep,
    session: SessionDep,
    resources: ResourcesDep,
    siret: Field,
    login: Field,
    password: Field,
    address_line1: Field = "",
    address_line2: Field = "",
    postal_code: Field = "",
    city: Field = "",
    country_code: Field = "FR",
) -> Response:
    """Register a supplier structure and its technical account."""
    address = Address(address_line1, address_line2, postal_code, city, country_code)
    try:
        structure = await structures.add_structure(
            session,
            resources.password_box,
            siret=siret,
            login=login.strip(),
            password=SecretStr(password),
            address=address,
        )
    except GatewayError as exc:
        kept = {
            "siret": siret,
            "login": login,
            "address_line1": address_line1,
            "address_line2": address_line2,
            "postal_code": postal_code,
            "city": city,
            "country_code": country_code,
        }
        return await _structures_page(request, viewer, session, Feedback.refused(exc), kept)
    # As the API does: invoices for this supplier are accepted at once, not after the cache.
    resources.suppliers.remember(structure.siret, supplier_profile(structure))
    notice = f"Structure {structure.siret} enregistrée."
    return await _structures_page(request, viewer, session, Feedback(notice))


@router.post("/structures/{siret}/mot-de-passe", response_class=HTMLResponse)
async def rotate_password(
    request: Request,
    siret: str,
    viewer: WriterDep,
    session: SessionDep,
    resources: ResourcesDep,
    password: Field,
) -> Response:
    """A new technical-account password (deliveries paused for authentication resume)."""
    try:
        await structures.rotate_password(
            session,
            resources.password_box,
            siret=siret,
            password=SecretStr(password),
            actor=Actor.of(viewer.caller),
        )
    except GatewayError as exc:
        return await _structures_page(request, viewer, session, Feedback.refused(exc))
    notice = f"Mot de passe de {siret} remplacé ; les dépôts en pause reprennent."
    return await _structures_page(request, viewer, session, Feedback(notice))


@router.post("/structures/{siret}/reprendre", response_class=HTMLResponse)
async def resume(request: Request, siret: str, viewer: WriterDep, session: SessionDep) -> Response:
    """Lift a pause without changing the password (Chorus refused it by mistake, say)."""
    try:
        structure = await structures.resume_structure(session, siret, Actor.of(viewer.caller))
    except GatewayError as exc:
        return await _structures_page(request, viewer, session, Feedback.refused(exc))
    notice = f"Structure {structure.siret} reprise."
    return await _structures_page(request, viewer, session, Feedback(notice))


async def _clients_page(
    request: Request, viewer: Viewer, session: SessionDep, feedback: Feedback = NO_FEEDBACK
) -> Response:
    rows = await clients.list_clients(session)
    context: dict[str, Any] = {
        "clients": [(row, clients.client_status(row)) for row in rows],
        "scopes": [str(scope) for scope in Scope],
        "new_key": feedback.secret,
    }
    return _render(request, viewer, "clients", feedback, context)


@router.get("/clients", response_class=HTMLResponse)
async def clients_page(request: Request, viewer: OperatorDep, session: SessionDep) -> Response:
    """Every API client (never a key or its hash)."""
    return await _clients_page(request, viewer, session)


@router.post("/clients", response_class=HTMLResponse)
async def create_client(
    request: Request,
    viewer: WriterDep,
    session: SessionDep,
    name: Annotated[str, Form(max_length=100)],
    suppliers: Field = "",
) -> Response:
    """A new client with the scopes ticked; its key is shown in this answer only."""
    form = await request.form()
    chosen = [str(value) for value in form.getlist("scopes")]
    try:
        scopes = [Scope(value) for value in chosen]
    except ValueError:
        return await _clients_page(
            request, viewer, session, Feedback(error="Portée inconnue.", status=422)
        )
    if not name.strip() or not scopes:
        return await _clients_page(
            request, viewer, session, Feedback(error="Un nom et au moins une portée.", status=422)
        )
    sirets = [s for s in suppliers.replace(",", " ").split() if s]
    try:
        client, key = await clients.create_client(
            session, name=name.strip(), scopes=scopes, supplier_sirets=sirets
        )
    except GatewayError as exc:
        return await _clients_page(request, viewer, session, Feedback.refused(exc))
    return await _clients_page(request, viewer, session, Feedback(secret=(client.name, key)))


@dataclass(frozen=True, slots=True)
class ClientForm:
    """A form posted about one API client, answered with the clients page."""

    request: Request
    client_id: str
    viewer: Viewer
    session: AsyncSession
    resources: Resources

    async def answer(self, feedback: Feedback) -> Response:
        """The clients page with `feedback` above it."""
        return await _clients_page(self.request, self.viewer, self.session, feedback)


async def client_form(
    request: Request,
    client_id: str,
    viewer: WriterDep,
    session: SessionDep,
    resources: ResourcesDep,
) -> ClientForm:
    """The posted form, once the viewer may write."""
    return ClientForm(request, client_id, viewer, session, resources)


ClientFormDep = Annotated[ClientForm, Depends(client_form)]


@router.post("/clients/{client_id}/revoquer", response_class=HTMLResponse)
async def revoke_client(form: ClientFormDep) -> Response:
    """Refuse the client's key from now on (its console sessions end too)."""
    session = form.session
    try:
        client = await clients.revoke_client(
            session, await clients.get_client(session, form.client_id)
        )
    except GatewayError as exc:
        return await form.answer(Feedback.refused(exc))
    form.resources.callers.forget(client.id)
    return await form.answer(Feedback(f"Client {client.name} révoqué."))


@router.post("/clients/{client_id}/renouveler", response_class=HTMLResponse)
async def rotate_client(form: ClientFormDep) -> Response:
    """A new key for the client, shown once; the old one stops."""
    session = form.session
    try:
        client, key = await clients.rotate_client(
            session, await clients.get_client(session, form.client_id)
        )
    except GatewayError as exc:
        return await form.answer(Feedback.refused(exc))
    form.resources.callers.forget(client.id)
    return await form.answer(Feedback(secret=(client.name, key)))


async def _webhooks_page(
    request: Request, viewer: Viewer, session: SessionDep, feedback: Feedback = NO_FEEDBACK
) -> Response:
    context: dict[str, Any] = {
        "subscriptions": await subscriptions.list_subscriptions(session),
        "deliveries": await queries.recent_webhook_deliveries(session),
        "new_secret": feedback.secret,
    }
    return _render(request, viewer, "webhooks", feedback, context)


@router.get("/webhooks", response_class=HTMLResponse)
async def webhooks_page(request: Request, viewer: OperatorDep, session: SessionDep) -> Response:
    """Subscriptions and their recent deliveries."""
    return await _webhooks_page(request, viewer, session)


@router.post("/webhooks", response_class=HTMLResponse)
async def create_webhook(
    request: Request,
    viewer: WriterDep,
    session: SessionDep,
    resources: ResourcesDep,
    url: Annotated[str, Form(max_length=2000)],
    description: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A new subscription to every event; its signing secret is shown in this answer only."""
    try:
        subscription, secret = await subscriptions.create_subscription(
            session,
            resources.password_box,
            url=AnyUrl(url.strip()),
            allow_private=resources.settings.webhook.allow_private_targets,
            description=description.strip() or None,
        )
    except ValidationError:
        return await _webhooks_page(
            request, viewer, session, Feedback(error="Adresse (URL) invalide.", status=422)
        )
    except GatewayError as exc:
        return await _webhooks_page(request, viewer, session, Feedback.refused(exc))
    secret_shown = (subscription.url, secret.get_secret_value())
    return await _webhooks_page(request, viewer, session, Feedback(secret=secret_shown))


@router.post("/webhooks/{subscription_id}/supprimer", response_class=HTMLResponse)
async def delete_webhook(
    request: Request, subscription_id: str, viewer: WriterDep, session: SessionDep
) -> Response:
    """Stop deliveries to this endpoint (as DELETE /v1/webhooks/{id})."""
    try:
        await subscriptions.disable_subscription(session, subscription_id)
    except GatewayError as exc:
        return await _webhooks_page(request, viewer, session, Feedback.refused(exc))
    return await _webhooks_page(request, viewer, session, Feedback("Abonnement supprimé."))


@router.post("/webhooks/{subscription_id}/tester", response_class=HTMLResponse)
async def test_webhook(
    request: Request, subscription_id: str, viewer: WriterDep, session: SessionDep
) -> Response:
    """Queue a signed `webhook.test` event to this endpoint only."""
    try:
        await send_test_event(session, subscription_id)
    except GatewayError as exc:
        return await _webhooks_page(request, viewer, session, Feedback.refused(exc))
    notice = "Événement de test mis en file : voir les envois ci-dessous."
    return await _webhooks_page(request, viewer, session, Feedback(notice))
