"""HTTP endpoints for invoices: parse, call one service function, answer."""

from __future__ import annotations

from functools import partial
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from app.api_types import CursorQuery, InvoiceIdPath, SiretQuery
from app.auth.dependencies import ReaderDep, WriterDep
from app.auth.service import Caller
from app.buyers.service import online_requirements
from app.db.session import SessionDep, SessionmakerDep
from app.dependencies import (
    AccountLookupDep,
    DirectoryDep,
    ResourcesDep,
    SettingsDep,
    SupplierLookupDep,
)
from app.errors import UnsupportedMediaType
from app.idempotency import service as idempotency
from app.invoices import attachment_service, batch, document_service, service
from app.invoices.document_service import ConformanceLevel, DocumentFormat, ValidationReport
from app.invoices.parsing import decode_json_body
from app.invoices.schemas import (
    AttachmentList,
    InvoiceIn,
    InvoiceOut,
    InvoicePage,
    InvoiceStatusName,
    ValidationOut,
)
from app.invoices.uploads import (
    DOCUMENT_MEDIA_TYPES,
    PdfSubmission,
    read_attachments,
    read_document_body,
    read_pdf_submission,
)
from app.problems import problem_responses
from app.resources import Resources
from app.settings import ApiSettings
from app.structures.access import RetrierDep
from app.structures.accounts import AccountLookup

router = APIRouter(prefix="/v1/invoices", tags=["invoices"])

_INVOICE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/InvoiceIn"}},
            "application/xml": {
                "schema": {"type": "string", "format": "binary"},
                "description": "The ERP's own UBL 2.1 Invoice or CreditNote, or CII D16B "
                "CrossIndustryInvoice: checked against its XSD and the EN 16931 schematron "
                "(422 FORMAT_INVALID), read as the canonical invoice, stored and deposited as "
                "received. No DOCTYPE or entity declarations (422 XML_DTD_REFUSED).",
            },
            "text/xml": {
                "schema": {"type": "string", "format": "binary"},
                "description": "As application/xml.",
            },
            "application/pdf": {
                "schema": {"type": "string", "format": "binary"},
                "description": "A Factur-X / ZUGFeRD PDF at the EN 16931 or BASIC profile "
                "(MINIMUM and BASIC WL: 422 FACTURX_PROFILE_REFUSED); its factur-x.xml is read "
                "and checked as a CII, the PDF deposited as received.",
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The invoice PDF, at most API_MAX_PDF_BYTES; signed "
                            "or not (a signed PDF is sent as is). Required unless attachments "
                            "come with a JSON invoice. Or the ERP's own UBL, CII or Factur-X "
                            "(as with application/xml or application/pdf), which `invoice` "
                            "then completes or overrides.",
                        },
                        "attachment": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "Supporting documents (repeat the part): a name of "
                            "at most 50 characters with an extension Chorus accepts, at most "
                            "API_MAX_ATTACHMENT_BYTES each, API_MAX_ATTACHMENTS_TOTAL_BYTES with "
                            "the PDF.",
                        },
                        "invoice": {
                            "type": "string",
                            "description": "InvoiceIn as JSON; `lines` optional with `totals`. "
                            "Required with a plain PDF; with a UBL, CII or Factur-X `file`, "
                            "optional: its fields override or complete the document's.",
                        },
                    },
                }
            },
        },
    }
}

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        # Checked by hand (idempotency.checked_key) to answer 400 IDEMPOTENCY_KEY_INVALID.
        json_schema_extra={
            "minLength": 1,
            "maxLength": idempotency.MAX_KEY_LENGTH,
            "pattern": "^[ -~]*[!-~][ -~]*$",
        },
        description="Makes retries safe: the same key and body return the first response. "
        f"1 to {idempotency.MAX_KEY_LENGTH} printable ASCII characters.",
    ),
]


def _requirements(
    resources: Resources, accounts: AccountLookup, caller: Caller
) -> service.RequirementsLookup:
    """The buyer directory's requirements, asked as one of the caller's suppliers."""
    return partial(online_requirements, resources.buyers, accounts, resources.settings.api, caller)


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _read_submission(request: Request, settings: ApiSettings) -> PdfSubmission:
    """The invoice JSON, and the PDF and attachments when the body is multipart; or the ERP's
    own UBL, CII or Factur-X."""
    content_type = _content_type(request)
    if content_type == "multipart/form-data":
        return await read_pdf_submission(
            request,
            max_pdf_bytes=settings.max_pdf_bytes,
            limits=service.attachment_limits(settings),
        )
    if content_type in DOCUMENT_MEDIA_TYPES:
        return read_document_body(
            await request.body(), content_type, max_bytes=settings.max_pdf_bytes
        )
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType(
            "Send the invoice as application/json, a UBL or CII as application/xml, a Factur-X "
            "as application/pdf, or multipart/form-data with a file."
        )
    return PdfSubmission(decode_json_body(await request.body()), None, [])


@router.post(
    "",
    status_code=201,
    response_model=InvoiceOut,
    summary="Submit an invoice",
    openapi_extra=_INVOICE_BODY,
    responses={
        201: {
            "description": "Stored and queued for Chorus Pro. For a UBL, CII or Factur-X, the "
            "body also has `warnings`: the schematron's findings that do not block.",
            "headers": {"Location": {}},
        },
        **problem_responses(400, 401, 403, 409, 413, 415, 422),
    },
)
async def create_invoice(
    request: Request,
    session: SessionDep,
    caller: WriterDep,
    resources: ResourcesDep,
    suppliers: SupplierLookupDep,
    accounts: AccountLookupDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Normalize, validate and store an invoice; it is then delivered to Chorus Pro."""
    key = idempotency.checked_key(idempotency_key)
    read = await _read_submission(request, resources.settings.api)
    submission = await service.submit_invoice(
        session,
        caller=caller,
        document=read.document,
        pdf=read.pdf,
        pdf_problems=read.violations,
        attachments=read.attachments,
        idempotency_key=key,
        settings=resources.settings.api,
        lookup=_requirements(resources, accounts, caller),
        suppliers=suppliers,
        delivery_format=resources.settings.chorus.delivery_format,
        received=read.received,
    )
    headers = {"Location": submission.location} if submission.location else {}
    if submission.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(submission.body, status_code=submission.status, headers=headers)


_BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/InvoiceBatchIn"}}
        },
    }
}


@router.post(
    "/batch",
    response_model=batch.InvoiceBatchOut,
    summary="Submit many invoices at once (up to API_MAX_BATCH_ITEMS, 500 by default)",
    openapi_extra=_BATCH_BODY,
    responses=problem_responses(400, 401, 403, 413, 415, 422),
)
async def create_invoice_batch(
    request: Request,
    sessionmaker: SessionmakerDep,
    caller: WriterDep,
    resources: ResourcesDep,
    suppliers: SupplierLookupDep,
    accounts: AccountLookupDep,
) -> JSONResponse:
    """Each item is answered as `POST /v1/invoices` would answer it, in order; valid ones are
    stored even when others fail. A body that is not a batch stores nothing."""
    content_type = _content_type(request)
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType("Send the batch as application/json.")
    items = batch.read_batch(
        decode_json_body(await request.body()), resources.settings.api.max_batch_items
    )
    body = await batch.submit_batch(
        sessionmaker,
        items,
        caller=caller,
        settings=resources.settings.api,
        lookup=_requirements(resources, accounts, caller),
        suppliers=suppliers,
        delivery_format=resources.settings.chorus.delivery_format,
    )
    return JSONResponse(body)


@router.post(
    "/validate",
    response_model=ValidationReport,
    summary="Validate an invoice without storing it",
    openapi_extra=_INVOICE_BODY,
    responses=problem_responses(400, 401, 403, 413, 415, 422),
)
async def validate_invoice(
    request: Request,
    caller: WriterDep,
    resources: ResourcesDep,
    suppliers: SupplierLookupDep,
    accounts: AccountLookupDep,
    directory: DirectoryDep,
    conformance: Annotated[
        ConformanceLevel | None,
        Query(
            description="`full`: also write the EN 16931 document the invoice would be "
            "deposited as and run the XSD and the schematron on it (a second or so)."
        ),
    ] = None,
) -> ValidationReport:
    """Run normalization and every rule (the supplier's registration too); store nothing."""
    read = await _read_submission(request, resources.settings.api)
    accepted = await service.check_invoice(
        read.document,
        resources.settings.api,
        caller,
        _requirements(resources, accounts, caller),
        suppliers=suppliers,
        pdf_violations=read.violations,
        with_pdf=read.pdf is not None,
        delivery_format=resources.settings.chorus.delivery_format,
        pdf=read.pdf.content if read.pdf is not None else None,
        attachments=read.attachments,
        received=read.received,
    )
    report = document_service.received_conformance(accepted) or (
        await document_service.check_conformance(
            resources.sessionmaker,
            directory,
            accepted,
            read.pdf.content if read.pdf is not None else None,
        )
        if conformance is ConformanceLevel.FULL
        else None
    )
    return ValidationReport(
        invoice=accepted.invoice,
        validation=ValidationOut(mode=accepted.validation_mode),
        conformance=report,
    )


@router.get(
    "/{invoice_id}",
    response_model=InvoiceOut,
    summary="Get an invoice",
    responses=problem_responses(401, 403, 404),
)
async def get_invoice(
    invoice_id: InvoiceIdPath, session: SessionDep, caller: ReaderDep
) -> InvoiceOut:
    """One invoice, with its Chorus Pro status and history."""
    return await service.get_invoice(session, caller, invoice_id)


@router.get(
    "",
    response_model=InvoicePage,
    summary="List invoices, newest first",
    responses=problem_responses(401, 403, 422),
)
async def list_invoices(
    session: SessionDep,
    caller: ReaderDep,
    settings: SettingsDep,
    status: InvoiceStatusName | None = None,
    supplier_siret: SiretQuery = None,
    invoice_number: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    cursor: CursorQuery = None,
) -> InvoicePage:
    """The caller's invoices; follow `next_cursor` for older ones."""
    return await service.list_invoices(
        session,
        caller,
        status=status,
        supplier_siret=supplier_siret,
        invoice_number=invoice_number,
        limit=limit or settings.api.default_page_size,
        cursor=cursor,
    )


@router.get(
    "/{invoice_id}/pdf",
    response_class=Response,
    summary="The PDF sent with an invoice",
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The PDF as uploaded."},
        **problem_responses(401, 403, 404),
    },
)
async def get_invoice_pdf(
    invoice_id: InvoiceIdPath, session: SessionDep, caller: ReaderDep
) -> Response:
    """Served back exactly as uploaded."""
    document = await service.get_pdf(session, caller, invoice_id)
    return Response(
        document.content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{document.filename}"'},
    )


_ATTACHMENT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["attachment"],
                    "properties": {
                        "attachment": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "Supporting documents (repeat the part), checked as "
                            "at submission.",
                        }
                    },
                }
            }
        },
    }
}


@router.post(
    "/{invoice_id}/attachments",
    status_code=201,
    response_model=AttachmentList,
    summary="Add supporting documents to a queued invoice",
    openapi_extra=_ATTACHMENT_BODY,
    responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
)
async def add_attachments(
    invoice_id: InvoiceIdPath,
    request: Request,
    session: SessionDep,
    caller: WriterDep,
    settings: SettingsDep,
) -> AttachmentList:
    """Only before the first delivery attempt (409 ATTACHMENTS_CLOSED after); answers them all."""
    if _content_type(request) != "multipart/form-data":
        raise UnsupportedMediaType("Send the attachments as multipart/form-data parts.")
    attachments = await read_attachments(request, service.attachment_limits(settings.api))
    return await attachment_service.add_attachments(
        session, caller, invoice_id, attachments, settings.api
    )


@router.get(
    "/{invoice_id}/attachments",
    response_model=AttachmentList,
    summary="The supporting documents sent with an invoice",
    responses=problem_responses(401, 403, 404),
)
async def list_attachments(
    invoice_id: InvoiceIdPath, session: SessionDep, caller: ReaderDep
) -> AttachmentList:
    """In the order received, without their bytes."""
    return await attachment_service.list_attachments(session, caller, invoice_id)


@router.get(
    "/{invoice_id}/attachments/{position}",
    response_class=Response,
    summary="One supporting document",
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "As uploaded."},
        **problem_responses(401, 403, 404, 422),
    },
)
async def get_attachment(
    invoice_id: InvoiceIdPath,
    position: Annotated[int, Path(ge=1, le=10_000)],
    session: SessionDep,
    caller: ReaderDep,
) -> Response:
    """Served back exactly as uploaded."""
    attachment = await attachment_service.get_attachment(session, caller, invoice_id, position)
    return Response(
        attachment.content,
        media_type=attachment.content_type,
        headers={
            "Content-Disposition": _disposition(attachment.filename),
            "ETag": f'"{attachment.sha256}"',
        },
    )


def _disposition(filename: str) -> str:
    # Headers are Latin-1: an ASCII fallback, and the exact name per RFC 6266 / RFC 8187.
    fallback = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


_DOCUMENT_HEADERS = {
    "ETag": {
        "description": "The SHA-256 of the content, quoted; send it back in If-None-Match.",
        "schema": {"type": "string"},
    },
    "Content-Disposition": {
        "description": "attachment, with the document's file name.",
        "schema": {"type": "string"},
    },
}
_BINARY = {"schema": {"type": "string", "format": "binary"}}


@router.get(
    "/{invoice_id}/document",
    response_class=Response,
    summary="The document deposited at Chorus Pro, or another rendering",
    responses={
        200: {
            "content": {"application/xml": _BINARY, "application/pdf": _BINARY},
            "description": "Without `format`: the exact bytes deposited (a flux's CII, UBL or "
            "Factur-X, or the PDF sent by DEPOT_PDF_API). With it: the invoice written now.",
            "headers": _DOCUMENT_HEADERS,
        },
        304: {"description": "Unchanged: the ETag matches If-None-Match."},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def get_invoice_document(
    invoice_id: InvoiceIdPath,
    caller: ReaderDep,
    resources: ResourcesDep,
    directory: DirectoryDep,
    fmt: Annotated[
        DocumentFormat | None,
        Query(
            alias="format",
            description="Render this syntax from the stored invoice instead (`facturx` needs "
            "the invoice's PDF).",
        ),
    ] = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match", max_length=1024)] = None,
) -> Response:
    """404 DOCUMENT_NOT_FOUND until a document reached Chorus (never for `saisie` invoices)."""
    document = await document_service.get_document(
        resources.sessionmaker, directory, caller, invoice_id, fmt
    )
    headers = {"ETag": document.etag}
    if if_none_match is not None and _matches(if_none_match, document.etag):
        return Response(status_code=304, headers=headers)
    headers["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    return Response(document.content, media_type=document.content_type, headers=headers)


def _matches(if_none_match: str, etag: str) -> bool:
    # RFC 9110 §13.1.2: weak comparison, so a W/ prefix added by a proxy still matches.
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


@router.post(
    "/{invoice_id}/retry",
    response_model=InvoiceOut,
    summary="Re-queue a failed invoice",
    responses=problem_responses(401, 403, 404, 409),
)
async def retry_invoice(
    invoice_id: InvoiceIdPath, session: SessionDep, caller: RetrierDep
) -> InvoiceOut:
    """Operators, or the principal of its supplier structure; the next attempt first checks
    whether Chorus already has it."""
    return await service.retry_invoice(session, invoice_id)


# Referenced by the request bodies above, which are read by hand to report every problem at once.
INVOICE_SCHEMAS = (InvoiceIn, batch.InvoiceBatchIn)
