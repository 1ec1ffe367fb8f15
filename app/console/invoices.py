"""Invoice pages: the filtered list, one invoice in full, its downloads, and the retry action."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.console import queries
from app.console.access import ConsoleError, Viewer, ViewerDep, WriterDep
from app.console.labels import STATUSES
from app.console.templating import render
from app.db.session import SessionDep
from app.dependencies import ResourcesDep
from app.domain.identifiers import normalize_siret
from app.errors import GatewayError, NotFound
from app.invoices import attachment_service, document_service, service
from app.invoices.schemas import InvoiceOut
from app.resources import directory_access

router = APIRouter(prefix="/factures")
InvoiceId = Annotated[str, Path(pattern=r"^inv_[0-9A-Z]{26}$")]


def _search(
    status: str | None,
    supplier: str | None,
    buyer: str | None,
    number: str | None,
    date_from: date | None,
    date_to: date | None,
    page: int,
) -> queries.InvoiceSearch:
    return queries.InvoiceSearch(
        status=status if status in STATUSES else None,
        supplier_siret=normalize_siret(supplier) if supplier else None,
        buyer_siret=normalize_siret(buyer) if buyer else None,
        invoice_number=number.strip() if number and number.strip() else None,
        date_from=date_from,
        date_to=date_to,
        page=page,
    )


def _visible(viewer: Viewer) -> frozenset[str] | None:
    return None if viewer.is_operator else viewer.caller.supplier_sirets


Text = Annotated[str | None, Query(max_length=64)]
PageQuery = Annotated[int, Query(ge=1, le=100_000)]


def _empty_as_none(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if v}


@router.get("", response_class=HTMLResponse)
async def invoice_list(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    statut: Text = None,
    fournisseur: Text = None,
    acheteur: Text = None,
    numero: Text = None,
    du: Text = None,
    au: Text = None,
    page: PageQuery = 1,
) -> Response:
    """Newest first, 25 a page; with `HX-Request` only the table (the list refreshes itself)."""
    search = _search(statut, fournisseur, acheteur, numero, _date(du), _date(au), page)
    found = await queries.search_invoices(session, search, _visible(viewer))
    params = _empty_as_none(request)
    params.pop("page", None)
    context = {
        "viewer": viewer,
        "found": found,
        "search": search,
        "params": params,
        "nav": "invoices",
    }
    name = "_invoice_rows.html" if request.headers.get("HX-Request") else "invoices.html"
    return render(request, name, context)


def _date(value: str | None) -> date | None:
    # An empty or half-typed date in the filter form means "no bound", not an error page.
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


async def _invoice(session: SessionDep, viewer: Viewer, invoice_id: str) -> InvoiceOut:
    try:
        return await service.get_invoice(session, viewer.caller, invoice_id)
    except NotFound as exc:
        raise ConsoleError(404, f"Aucune facture {invoice_id}.") from exc


async def _detail_context(
    session: SessionDep, viewer: Viewer, invoice_id: str
) -> dict[str, object]:
    invoice = await _invoice(session, viewer, invoice_id)
    return {
        "viewer": viewer,
        "invoice": invoice,
        "attempts": await queries.outbox_items(session, invoice_id),
        "events": await queries.invoice_events(session, invoice_id),
        "downloads": await queries.downloads(session, invoice_id),
        "nav": "invoices",
    }


@router.get("/{invoice_id}", response_class=HTMLResponse)
async def invoice_page(
    request: Request, invoice_id: InvoiceId, viewer: ViewerDep, session: SessionDep
) -> Response:
    """One invoice: normalized fields, lines, Chorus, timeline, attempts, events, documents."""
    context = await _detail_context(session, viewer, invoice_id)
    return render(request, "invoice.html", context)


@router.get("/{invoice_id}/suivi", response_class=HTMLResponse)
async def invoice_follow_up(
    request: Request, invoice_id: InvoiceId, viewer: ViewerDep, session: SessionDep
) -> Response:
    """The parts of the page that move (status, timeline, attempts, events), for htmx."""
    context = await _detail_context(session, viewer, invoice_id)
    return render(request, "_invoice_follow_up.html", context)


@router.post("/{invoice_id}/relancer")
async def retry(invoice_id: InvoiceId, viewer: WriterDep, session: SessionDep) -> Response:
    """Re-queue a failed invoice (the page asked for confirmation first)."""
    try:
        await service.retry_invoice(session, invoice_id)
    except NotFound as exc:
        raise ConsoleError(404, f"Aucune facture {invoice_id}.") from exc
    except GatewayError as exc:
        raise ConsoleError(exc.status, "Seule une facture en échec peut être relancée.") from exc
    return RedirectResponse(f"/console/factures/{invoice_id}?relancee=1", status_code=303)


def _download(content: bytes, media_type: str, filename: str) -> Response:
    ascii_name = filename.encode("ascii", "replace").decode("ascii").replace('"', "_")
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{ascii_name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/{invoice_id}/pdf")
async def download_pdf(invoice_id: InvoiceId, viewer: ViewerDep, session: SessionDep) -> Response:
    """The PDF the ERP sent."""
    try:
        document = await service.get_pdf(session, viewer.caller, invoice_id)
    except NotFound as exc:
        raise ConsoleError(404, "Pas de PDF pour cette facture.") from exc
    return _download(document.content, "application/pdf", document.filename)


@router.get("/{invoice_id}/document-depose")
async def download_deposited(
    invoice_id: InvoiceId, viewer: ViewerDep, resources: ResourcesDep
) -> Response:
    """The exact bytes deposited at Chorus."""
    try:
        document = await document_service.get_document(
            resources.sessionmaker, directory_access(resources), viewer.caller, invoice_id, None
        )
    except NotFound as exc:
        raise ConsoleError(404, "Aucun document déposé pour cette facture.") from exc
    return _download(document.content, document.content_type, document.filename)


@router.get("/{invoice_id}/pieces/{position}")
async def download_attachment(
    invoice_id: InvoiceId,
    position: Annotated[int, Path(ge=1, le=10_000)],
    viewer: ViewerDep,
    session: SessionDep,
) -> Response:
    """A supporting document."""
    try:
        attachment = await attachment_service.get_attachment(
            session, viewer.caller, invoice_id, position
        )
    except NotFound as exc:
        raise ConsoleError(404, "Pièce jointe introuvable.") from exc
    return _download(attachment.content, attachment.content_type, attachment.filename)
