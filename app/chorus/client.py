"""`ChorusClient`: typed calls to Chorus Pro through PISTE, each acting as a technical account."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from app.chorus.accounts import TechnicalAccount
from app.chorus.auth import TokenCache, chorus_timeout
from app.chorus.cache import ExpiringLru
from app.chorus.classify import (
    DUPLICATE_CODES,
    NO_RESULT_CODES,
    Accepted,
    ChorusCallResult,
    classify,
    classify_exception,
    read_json,
)
from app.chorus.errors import ChorusAmbiguous, ChorusAuthError, ChorusError, ChorusRefusal
from app.chorus.schemas import (
    ActiveStructure,
    ActiveStructuresResponse,
    ConsultInvoiceRequest,
    ConsultInvoiceResponse,
    ConsultServiceRequest,
    ConsultServiceResponse,
    ConsultStructureRequest,
    ConsultStructureResponse,
    DepositFluxRequest,
    FluxDeposit,
    FluxReport,
    FluxReportRequest,
    FluxStateResponse,
    FluxSyntax,
    HistoryPageRequest,
    HistoStatut,
    InvoiceDetail,
    InvoiceHistory,
    InvoiceHistoryRequest,
    InvoiceHistoryResponse,
    InvoiceSummary,
    PagedResponse,
    PageRequest,
    SearchServicesRequest,
    SearchServicesResponse,
    SearchStructuresRequest,
    SearchStructuresResponse,
    SearchSupplierInvoicesRequest,
    SearchSupplierInvoicesResponse,
    ServiceSummary,
    StatusChange,
    StructureCriteria,
    StructureSummary,
    SubmitInvoiceRequest,
    SubmitInvoiceResponse,
    TypeFacture,
    UploadAttachmentRequest,
    UploadAttachmentResponse,
    to_json_bytes,
)
from app.chorus.throttle import TokenBucket
from app.metrics_registry import CHORUS_CALLS, CHORUS_ERRORS
from app.request_context import current_request_id
from app.settings import ChorusSettings

logger = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json;charset=utf-8"
DEFAULT_PAGE_SIZE = 100
# A guard against a server that ignores `pageResultatDemandee` and never reports the last page.
MAX_PAGES = 1000
# `nbResultatsMaximum` of consulter/historique: Chorus caps a history at 200 unless told.
HISTORY_MAX_RESULTS = 1000

SUBMIT_INVOICE = "factures/v1/soumettre"
UPLOAD_ATTACHMENT = "transverses/v1/ajouter/fichier"
DEPOSIT_FLUX = "factures/v1/deposer/flux"
FLUX_REPORT = "transverses/v1/consulterCR"
DETAILED_FLUX_REPORT = "transverses/v1/consulterCRDetaille"
SEARCH_SUPPLIER_INVOICES = "factures/v1/rechercher/fournisseur"
CONSULT_INVOICE = "factures/v1/consulter/fournisseur"
INVOICE_HISTORY = "factures/v1/consulter/historique"
SEARCH_STRUCTURES = "structures/v1/rechercher"
CONSULT_STRUCTURE = "structures/v1/consulter"
SEARCH_SERVICES = "structures/v1/rechercher/services"
CONSULT_SERVICE = "structures/v1/consulter/service"
ACTIVE_SUPPLIER_STRUCTURES = "transverses/v1/recuperer/structures/actives/fournisseur"
HEALTH_CHECK = "transverses/v1/health-check"

ResponseT = TypeVar("ResponseT", bound=BaseModel)
PagedT = TypeVar("PagedT", bound=PagedResponse)
ItemT = TypeVar("ItemT")


def _parse(model: type[ResponseT], accepted: Accepted, endpoint: str) -> ResponseT:
    """Read an accepted payload into its model, or say the answer is unusable."""
    try:
        return model.model_validate(accepted.payload)
    except ValidationError as exc:
        # Name the fields only: the values are Chorus's data and have no place in a message.
        fields = ", ".join(".".join(str(part) for part in error["loc"]) for error in exc.errors())
        raise ChorusAmbiguous(
            f"{endpoint} answered HTTP {accepted.status_code} without usable {fields}",
            endpoint=endpoint,
            status_code=accepted.status_code,
        ) from None


def cpro_headers(
    token: str, request_id: str, content: bytes | None, cpro_account: str | None
) -> dict[str, str]:
    """The headers of a `/cpro/` request: bearer token, JSON, request id, technical account."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "X-Request-ID": request_id,
    }
    if content is not None:
        headers["Content-Type"] = JSON_CONTENT_TYPE
    if cpro_account is not None:
        headers["cpro-account"] = cpro_account
    return headers


class ChorusClient:
    """Chorus Pro through PISTE: bearer token, `cpro-account`, throttle, retries on 401/403."""

    def __init__(
        self,
        settings: ChorusSettings,
        http: httpx.AsyncClient | None = None,
        *,
        duplicate_codes: Collection[int] = DUPLICATE_CODES,
        no_result_codes: Collection[int] = NO_RESULT_CODES,
        tokens: TokenCache | None = None,
        throttle: TokenBucket | None = None,
        clock: Callable[[], float] = time.monotonic,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        self.settings = settings
        self.duplicate_codes = frozenset(duplicate_codes)
        self.no_result_codes = frozenset(no_result_codes)
        self.page_size = page_size
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient()
        # Share `tokens` and `throttle` between clients that use the same PISTE credentials.
        self._tokens = tokens if tokens is not None else TokenCache(clock=clock)
        self._throttle = (
            throttle
            if throttle is not None
            else TokenBucket(settings.rate_per_second, settings.rate_burst)
        )
        self._clock = clock
        self._api_url = settings.resolved_api_url.rstrip("/")
        self._timeout = chorus_timeout(settings)
        self._structure_ids: ExpiringLru[tuple[str, str], int] = ExpiringLru(
            settings.directory_cache_size, clock
        )
        # When Chorus last answered (success or business refusal); shown by health.
        self.last_success_at: datetime | None = None

    def __repr__(self) -> str:
        return f"ChorusClient(api_url={self._api_url!r}, client_id={self.settings.client_id!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this client created it."""
        if self._owns_http:
            await self._http.aclose()

    # --- transport -----------------------------------------------------------------------------

    async def _attempt(
        self,
        method: str,
        endpoint: str,
        account: TechnicalAccount | None,
        content: bytes | None,
        request_id: str,
        duplicate_codes: Collection[int],
        envelope: bool,
    ) -> tuple[ChorusCallResult, str]:
        token = await self._tokens.get_token(self._http, self.settings)
        await self._throttle.acquire()
        cpro_account = account.cpro_account if account is not None else None
        headers = cpro_headers(token, request_id, content, cpro_account)
        started = time.perf_counter()
        try:
            response = await self._http.request(
                method,
                f"{self._api_url}/cpro/{endpoint}",
                content=content,
                headers=headers,
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            failure = classify_exception(exc, endpoint=endpoint)
            logger.warning(
                "chorus call failed",
                extra={"endpoint": endpoint, "request_id": request_id, "error": str(failure)},
            )
            failure.__cause__ = exc
            return failure, token
        logger.debug(
            "chorus call",
            extra={
                "endpoint": endpoint,
                "status_code": response.status_code,
                "request_id": request_id,
                "elapsed_ms": round((time.perf_counter() - started) * 1000),
            },
        )
        if not envelope and response.is_success:
            parsed = read_json(response.content)
            payload = parsed if isinstance(parsed, dict) else {}
            return Accepted(status_code=response.status_code, payload=payload), token
        answer = classify(
            endpoint=endpoint,
            status_code=response.status_code,
            headers=response.headers,
            body=response.content,
            duplicate_codes=duplicate_codes,
        )
        return answer, token

    async def _call(
        self,
        method: str,
        endpoint: str,
        account: TechnicalAccount | None,
        body: BaseModel | Mapping[str, Any] | None,
        *,
        duplicate_codes: Collection[int] = frozenset(),
        envelope: bool = True,
    ) -> Accepted:
        started = time.perf_counter()
        try:
            accepted = await self._call_once_refreshing(
                method, endpoint, account, body, duplicate_codes, envelope
            )
        except ChorusError as error:
            outcome = "refusal" if isinstance(error, ChorusRefusal) else type(error).__name__
            CHORUS_CALLS.labels(endpoint, outcome).observe(time.perf_counter() - started)
            CHORUS_ERRORS.labels(endpoint, type(error).__name__).inc()
            raise
        CHORUS_CALLS.labels(endpoint, "success").observe(time.perf_counter() - started)
        return accepted

    async def _call_once_refreshing(
        self,
        method: str,
        endpoint: str,
        account: TechnicalAccount | None,
        body: BaseModel | Mapping[str, Any] | None,
        duplicate_codes: Collection[int],
        envelope: bool,
    ) -> Accepted:
        content = to_json_bytes(body) if body is not None else None
        # One id for the logical call, so the retry after a refresh is traceable as the same.
        request_id = current_request_id()
        args = (method, endpoint, account, content, request_id, duplicate_codes, envelope)
        outcome, token = await self._attempt(*args)
        retries = self.settings.auth_retries
        for retry in range(retries):
            if not isinstance(outcome, ChorusAuthError):
                break
            # An expired or revoked token gives 401/403, and PISTE gives transient 401s to calls
            # that come fast: a fresh token at once, then a doubling pause, before believing it.
            logger.info(
                "chorus denied the call; retrying with a fresh token",
                extra={"endpoint": endpoint, "request_id": request_id, "retry": retry + 1},
            )
            self._tokens.invalidate(self.settings, token)
            if retry > 0:
                await asyncio.sleep(self.settings.auth_retry_base_seconds * 2 ** (retry - 1))
            outcome, token = await self._attempt(*args)
        if isinstance(outcome, ChorusError):
            if isinstance(outcome, ChorusRefusal):
                # A business refusal is still Chorus answering: the link is healthy.
                self.last_success_at = datetime.now(UTC)
            raise outcome
        self.last_success_at = datetime.now(UTC)
        return outcome

    async def _post(
        self,
        account: TechnicalAccount,
        endpoint: str,
        body: BaseModel | Mapping[str, Any],
        model: type[ResponseT],
        *,
        duplicate_codes: Collection[int] = frozenset(),
    ) -> ResponseT:
        accepted = await self._call(
            "POST", endpoint, account, body, duplicate_codes=duplicate_codes
        )
        return _parse(model, accepted, endpoint)

    async def _every_page(
        self,
        account: TechnicalAccount,
        endpoint: str,
        build: Callable[[PageRequest], BaseModel],
        model: type[PagedT],
        items: Callable[[PagedT], list[ItemT]],
        page_size: int | None,
    ) -> list[ItemT]:
        size = page_size or self.page_size
        results: list[ItemT] = []
        page = 1
        while True:
            request = build(PageRequest(nbResultatsParPage=size, pageResultatDemandee=page))
            try:
                response = await self._post(account, endpoint, request, model)
            except ChorusRefusal as refusal:
                # "No result" is an answer, not a refusal: the results end here.
                if refusal.code in self.no_result_codes:
                    return results
                raise
            batch = items(response)
            results.extend(batch)
            pages = response.parametresRetour.pages if response.parametresRetour else None
            if pages is None and len(batch) >= size:
                logger.warning(
                    "chorus returned a full page without parametresRetour; stopping there",
                    extra={"endpoint": endpoint},
                )
            if not batch or pages is None or page >= pages or page >= MAX_PAGES:
                return results
            page += 1

    # --- invoices ------------------------------------------------------------------------------

    async def submit_invoice(
        self, account: TechnicalAccount, request: SubmitInvoiceRequest
    ) -> SubmitInvoiceResponse:
        """Submit one invoice (`SAISIE_API` or `DEPOT_PDF_API`); raises the error tree otherwise."""
        # codeRetour 0 without identifiantFactureCPP is ambiguous, as OSI treats it (§7).
        return await self._post(
            account,
            SUBMIT_INVOICE,
            request,
            SubmitInvoiceResponse,
            duplicate_codes=self.duplicate_codes,
        )

    async def upload_attachment(
        self, account: TechnicalAccount, name: str, mime_type: str, content: bytes
    ) -> int:
        """Store a file in Chorus (10 MB at most, else code 20003); returns its `pieceJointeId`."""
        extension = name.rsplit(".", 1)[1] if "." in name else ""
        request = UploadAttachmentRequest(
            pieceJointeFichier=base64.b64encode(content).decode("ascii"),
            pieceJointeNom=name,
            pieceJointeTypeMime=mime_type,
            pieceJointeExtension=extension,
        )
        response = await self._post(account, UPLOAD_ATTACHMENT, request, UploadAttachmentResponse)
        return response.pieceJointeId

    async def deposit_flux(
        self,
        account: TechnicalAccount,
        *,
        document: bytes,
        file_name: str,
        syntax: FluxSyntax,
        signed: bool = False,
    ) -> FluxDeposit:
        """Deposit one structured invoice (or a `.tar.gz` of them); raises the error tree otherwise.

        Chorus processes the flux later: follow it with `flux_report`, then find its invoices with
        `search_supplier_invoices(flux_number=...)`. A refusal here (unreadable file, wrong
        syntax, too large) means nothing was recorded. An ambiguous outcome (timeout, 5xx, cut
        connection, or codeRetour 0 without `numeroFluxDepot`) may have left a flux: reconcile by
        searching the invoice numbers once Chorus has had time to process it.
        """
        request = DepositFluxRequest(
            fichierFlux=base64.b64encode(document).decode("ascii"),
            nomFichier=file_name,
            syntaxeFlux=syntax,
            avecSignature=signed,
        )
        # No duplicate codes: a number already known is refused per invoice, asynchronously, in
        # the report's `listeErreurDP`, never by the deposit itself.
        return await self._post(account, DEPOSIT_FLUX, request, FluxDeposit)

    async def flux_report(
        self, account: TechnicalAccount, flux_number: str, detailed: bool = True
    ) -> FluxReport:
        """A flux's state (`consulterCRDetaille`, or `consulterCR` without the error lists).

        `detailed` is the default, as OCA's module does: only it names the rejected invoices, and
        `consulterCR` is reported broken for Factur-X (chorus-pro.md §2.3).
        """
        request = FluxReportRequest(numeroFluxDepot=flux_number)
        if detailed:
            return await self._post(account, DETAILED_FLUX_REPORT, request, FluxReport)
        response = await self._post(account, FLUX_REPORT, request, FluxStateResponse)
        return response.as_report()

    async def search_supplier_invoices(
        self,
        account: TechnicalAccount,
        *,
        invoice_number: str | None = None,
        flux_number: str | None = None,
        statuses: Collection[str] | None = None,
        invoice_type: TypeFacture | None = None,
        supplier_id: int | None = None,
        purchase_order: str | None = None,
        deposited_from: date | None = None,
        deposited_to: date | None = None,
        page_size: int | None = None,
    ) -> list[InvoiceSummary]:
        """The supplier's invoices matching every given filter, read over every page."""

        def build(page: PageRequest) -> SearchSupplierInvoicesRequest:
            return SearchSupplierInvoicesRequest(
                numeroFacture=invoice_number,
                numeroFluxDepot=flux_number,
                statutCourant=list(statuses) if statuses is not None else None,
                typeFacture=invoice_type,
                idFournisseur=supplier_id,
                numeroBonCommande=purchase_order,
                periodeDateDepotDu=deposited_from,
                periodeDateDepotAu=deposited_to,
                rechercheFactureParFournisseur=page,
            )

        return await self._every_page(
            account,
            SEARCH_SUPPLIER_INVOICES,
            build,
            SearchSupplierInvoicesResponse,
            lambda response: response.listeFactures,
            page_size,
        )

    async def consult_invoice(
        self, account: TechnicalAccount, chorus_invoice_id: int
    ) -> InvoiceDetail:
        """One invoice as Chorus holds it (`consulter/fournisseur`).

        Only tests call it: they read back what Chorus stored to prove the mapping.
        """
        request = ConsultInvoiceRequest(identifiantFactureCPP=chorus_invoice_id)
        response = await self._post(account, CONSULT_INVOICE, request, ConsultInvoiceResponse)
        return response.facture

    async def invoice_history(
        self, account: TechnicalAccount, chorus_invoice_id: int, *, page_size: int | None = None
    ) -> InvoiceHistory:
        """An invoice's status changes, oldest first, with Chorus's comments, over every page."""
        size = page_size or self.page_size
        entries: list[HistoStatut] = []
        seen_ids: set[int] = set()
        page = 1
        while True:
            request = InvoiceHistoryRequest(
                idFacture=chorus_invoice_id,
                nbResultatsMaximum=HISTORY_MAX_RESULTS,
                paramRechercheHistoStatuts=HistoryPageRequest(
                    nbResultatsParPageListeHistoStatut=size,
                    pageResultatDemandeeListeHistoStatut=page,
                    triColonneListeHistoStatut="HistoStatutDatePassage",
                    triSensListeHistoStatut="Ascendant",
                ),
            )
            response = await self._post(account, INVOICE_HISTORY, request, InvoiceHistoryResponse)
            statuses = response.historiquesDesStatuts
            batch = statuses.histoStatut if statuses else []
            for entry in batch:
                # Pages sorted on a minute-precise date may overlap when the history grows.
                if entry.histoStatutId is None or entry.histoStatutId not in seen_ids:
                    entries.append(entry)
                if entry.histoStatutId is not None:
                    seen_ids.add(entry.histoStatutId)
            pages = statuses.pagesHistoStatut if statuses else None
            if not batch or pages is None or page >= pages or page >= MAX_PAGES:
                break
            page += 1

        def chronological(item: tuple[int, HistoStatut]) -> tuple[float, int, int]:
            # Chorus's order is not documented; dates have minute precision, so ids break ties.
            index, entry = item
            at = entry.histoStatutDatePassage
            return (at.timestamp() if at else float("-inf"), entry.histoStatutId or 0, index)

        ordered = [entry for _, entry in sorted(enumerate(entries), key=chronological)]
        return InvoiceHistory(
            invoice_id=response.idFacture or chorus_invoice_id,
            invoice_number=response.numeroFacture,
            current_status=response.statutCourantCode,
            changes=[
                StatusChange(
                    code=entry.histoStatutCode,
                    at=entry.histoStatutDatePassage,
                    comment=entry.histoStatutCommentaire,
                )
                for entry in ordered
            ],
        )

    # --- structures ----------------------------------------------------------------------------

    async def search_structures(
        self, account: TechnicalAccount, siret: str, *, page_size: int | None = None
    ) -> list[StructureSummary]:
        """Structures whose identifier is this SIRET (`structures/v1/rechercher`)."""

        def build(page: PageRequest) -> SearchStructuresRequest:
            return SearchStructuresRequest(
                structure=StructureCriteria(
                    identifiantStructure=siret, typeIdentifiantStructure="SIRET"
                ),
                parametres=page,
            )

        return await self._every_page(
            account,
            SEARCH_STRUCTURES,
            build,
            SearchStructuresResponse,
            lambda response: response.listeStructures,
            page_size,
        )

    async def find_structure_id(self, account: TechnicalAccount, siret: str) -> int | None:
        """The `idStructureCPP` of a SIRET (cached per API URL and SIRET), or None if unknown."""
        key = (self._api_url, siret)
        cached = self._structure_ids.get(key)
        if cached is not None:
            return cached[0]
        structures = await self.search_structures(account, siret)
        matches = [s for s in structures if s.identifiantStructure in (None, siret)]
        if not matches:
            return None
        # Search results say ACTIVE/INACTIVE while search criteria say ACTIF/INACTIF.
        active = [s for s in matches if (s.statut or "").upper() in ("ACTIVE", "ACTIF")]
        structure_id = (active or matches)[0].idStructureCPP
        self._structure_ids.put(key, structure_id, self.settings.directory_cache_seconds)
        return structure_id

    @property
    def cached_structure_ids(self) -> int:
        """How many SIRET → `idStructureCPP` answers are cached (tests watch the cache with it)."""
        return len(self._structure_ids)

    async def consult_structure(
        self, account: TechnicalAccount, structure_id: int
    ) -> ConsultStructureResponse:
        """A structure's details, its `parametres` flags and the technical password's expiry."""
        request = ConsultStructureRequest(idStructureCPP=structure_id)
        return await self._post(account, CONSULT_STRUCTURE, request, ConsultStructureResponse)

    async def search_services(
        self, account: TechnicalAccount, structure_id: int, *, page_size: int | None = None
    ) -> list[ServiceSummary]:
        """Every service of a structure, read over every page."""

        def build(page: PageRequest) -> SearchServicesRequest:
            return SearchServicesRequest(
                idStructure=structure_id, parametresRechercherServicesStructure=page
            )

        return await self._every_page(
            account,
            SEARCH_SERVICES,
            build,
            SearchServicesResponse,
            lambda response: response.listeServices,
            page_size,
        )

    async def consult_service(
        self, account: TechnicalAccount, structure_id: int, service_id: int
    ) -> ConsultServiceResponse:
        """One service's details; `parametres.numeroEngagement` says whether it needs an EJ."""
        request = ConsultServiceRequest(idStructure=structure_id, idService=service_id)
        return await self._post(account, CONSULT_SERVICE, request, ConsultServiceResponse)

    async def active_supplier_structures(self, account: TechnicalAccount) -> list[ActiveStructure]:
        """The structures this technical account may invoice from.

        Only tests call it: the lightest authenticated call, to exercise tokens, limits and faults.
        """
        # This operation takes an empty JSON object (chorus-pro.md §1.4).
        response = await self._post(
            account, ACTIVE_SUPPLIER_STRUCTURES, {}, ActiveStructuresResponse
        )
        return response.listeStructures

    async def health_check(self, account: TechnicalAccount | None = None) -> dict[str, Any]:
        """Ping `GET transverses/v1/health-check`; returns its JSON (or {}) or raises the tree.

        Only tests call it (qualification sends its own raw GET, to record the exchange).
        """
        accepted = await self._call("GET", HEALTH_CHECK, account, None, envelope=False)
        return accepted.payload
