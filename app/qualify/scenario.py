"""The scripted qualification session: a few harmless reads and three marked invoices.

Steps (the issue's 1 to 7): token and a deliberately wrong `cpro-account`; the directory (the
supplier, the State, its services); a `SAISIE_API` invoice, a `DEPOT_PDF_API` invoice and one of
them again (the duplicate); a CII flux followed to a final state; a search that finds nothing and
a consult of an id that is not ours (a refusal); the history of the first invoice. It creates
only `QUAL-` invoices and changes nothing else: no status change, no other invoice touched.
A step that fails is recorded and the run goes on where it can.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import ValidationError

from app.chorus.accounts import TechnicalAccount
from app.chorus.classify import NO_RESULT_CODES
from app.chorus.client import (
    CONSULT_INVOICE,
    CONSULT_STRUCTURE,
    DEFAULT_PAGE_SIZE,
    DEPOSIT_FLUX,
    DETAILED_FLUX_REPORT,
    HEALTH_CHECK,
    INVOICE_HISTORY,
    SEARCH_SERVICES,
    SEARCH_STRUCTURES,
    SEARCH_SUPPLIER_INVOICES,
    SUBMIT_INVOICE,
    UPLOAD_ATTACHMENT,
)
from app.chorus.schemas import (
    FINAL_FLUX_STATES,
    ConsultInvoiceRequest,
    ConsultStructureRequest,
    DepositFluxRequest,
    FluxReport,
    FluxReportRequest,
    HistoryPageRequest,
    InvoiceHistoryRequest,
    PageRequest,
    SearchServicesRequest,
    SearchStructuresRequest,
    SearchSupplierInvoicesRequest,
    StructureCriteria,
    UploadAttachmentRequest,
)
from app.domain.identifiers import STATE_SIRET
from app.domain.invoice import Address
from app.qualify.invoices import (
    PDF_NAME,
    Recipient,
    cii_document,
    invoice_number,
    pdf_document,
    submit_request,
)
from app.qualify.observations import (
    DuplicateProbe,
    FluxRun,
    HistoryRead,
    Observations,
    StateDirectory,
    Submitted,
)
from app.qualify.probe import Answer, Probe, QualifyError
from app.settings import ChorusSettings

# The qualification test structure without EJ or SE flag (chorus-pro.md §6).
NO_FLAGS_SIRET = "12345678200051"
# An invoice id far above any the run creates: consulting it must be refused.
UNKNOWN_INVOICE_ID = 2_147_483_647
WRONG_LOGIN = "qualification-wrong-login"
# Flags of `structures/v1/consulter` that say what an invoice must carry.
_FLAG_NAMES = (
    "codeServiceDoitEtreRenseigne",
    "numeroEJDoitEtreRenseigne",
    "gestionNumeroEJOuCodeService",
)
_FINAL = {state.value for state in FINAL_FLUX_STATES}


@dataclass(frozen=True, slots=True)
class QualSupplier:
    """The registered supplier structure the run invoices from."""

    siret: str
    account: TechnicalAccount
    vat_number: str | None = None
    address: Address | None = None


@dataclass(frozen=True, slots=True)
class ScenarioOptions:
    """Who the invoices go to and how patiently the flux is followed."""

    recipient: Recipient = field(default_factory=lambda: Recipient(NO_FLAGS_SIRET))
    flux_wait_seconds: float = 600.0
    flux_poll_seconds: float = 5.0
    history_page_size: int = DEFAULT_PAGE_SIZE


class StepFailed(Exception):
    """A step's call was answered with something other than a success."""


def _page(size: int) -> PageRequest:
    return PageRequest(nbResultatsParPage=size, pageResultatDemandee=1)


def _ok(answer: Answer, what: str) -> dict[str, Any]:
    if not answer.succeeded or answer.payload is None:
        raise StepFailed(f"{what}: {answer.exchange().describe()}")
    return answer.payload


def _items(payload: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = payload.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


class Scenario:
    """One qualification run against one target; `run()` returns what Chorus did."""

    def __init__(
        self,
        settings: ChorusSettings,
        supplier: QualSupplier,
        options: ScenarioOptions,
        http: httpx.AsyncClient,
        *,
        progress: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.supplier = supplier
        self.options = options
        self.probe = Probe(settings, http)
        self._progress = progress or (lambda _: None)
        self._clock = clock
        self.seen = Observations(
            target=settings.target,
            api_url=settings.resolved_api_url,
            supplier_siret=supplier.siret,
            started_at=datetime.now(UTC),
        )
        self._supplier_id: int | None = None
        self._supplier_name: str | None = None
        self._recipient_name: str | None = None
        self._saisie_body: Any = None
        self._saisie_window: tuple[datetime, datetime] | None = None

    @property
    def account(self) -> TechnicalAccount:
        """The supplier's technical account."""
        return self.supplier.account

    @property
    def supplier_id(self) -> int:
        """The supplier's `idStructureCPP`, once the directory step found it."""
        if self._supplier_id is None:
            raise StepFailed("the supplier's structure was not found")
        return self._supplier_id

    async def _step(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        self._progress(name)
        try:
            await work()
        except StepFailed as exc:
            self.seen.errors[name] = str(exc)
        except httpx.HTTPError as exc:
            self.seen.errors[name] = f"{type(exc).__name__} calling Chorus"
        except (ValidationError, ValueError, TypeError, KeyError) as exc:
            self.seen.errors[name] = f"unreadable answer ({type(exc).__name__})"

    async def run(self) -> Observations:
        """Every step in order; QualifyError when there is no token or no supplier structure."""
        token = await self.probe.token()
        self.seen.token_expires_in = token.expires_in
        self.seen.token_scope = token.scope
        self.seen.token_type = token.token_type
        await self._step("wrong_account", self._wrong_account)
        await self._step("health_check", self._health_check)
        await self._step("supplier", self._supplier)
        if self._supplier_id is None:
            reason = self.seen.errors.get("supplier", "not found")
            raise QualifyError(
                f"supplier structure {self.supplier.siret} unusable on this target: {reason}"
            )
        await self._step("supplier_consult", self._supplier_consult)
        await self._step("state", self._state)
        await self._step("recipient", self._recipient)
        await self._step("saisie", self._saisie)
        await self._step("pdf", self._pdf)
        await self._step("duplicate", self._duplicate)
        await self._step("flux", self._flux)
        await self._step("empty_search", self._empty_search)
        await self._step("refusal", self._refusal)
        await self._step("history", self._history)
        self.seen.finished_at = datetime.now(UTC)
        return self.seen

    # --- 1. access ---------------------------------------------------------------------------

    def _state_search(self, siret: str) -> SearchStructuresRequest:
        return SearchStructuresRequest(
            structure=StructureCriteria(identifiantStructure=siret), parametres=_page(10)
        )

    async def _wrong_account(self) -> None:
        wrong = base64.b64encode(f"{WRONG_LOGIN}:not-the-password".encode()).decode("ascii")
        answer = await self.probe.call(
            SEARCH_STRUCTURES, self._state_search(STATE_SIRET), cpro_account=wrong
        )
        self.seen.wrong_account = answer.exchange()

    async def _health_check(self) -> None:
        answer = await self.probe.call(HEALTH_CHECK, None, account=self.account, method="GET")
        self.seen.health_check = answer.exchange()

    # --- 2. directory ------------------------------------------------------------------------

    async def _find(self, siret: str) -> dict[str, Any] | None:
        answer = await self.probe.call(
            SEARCH_STRUCTURES, self._state_search(siret), account=self.account
        )
        if answer.code in NO_RESULT_CODES:
            return None
        payload = _ok(answer, f"search of {siret}")
        found = [
            item
            for item in _items(payload, "listeStructures")
            if item.get("identifiantStructure") in (None, siret)
        ]
        active = [s for s in found if str(s.get("statut", "")).upper() in ("ACTIVE", "ACTIF")]
        candidates = active or found
        return candidates[0] if candidates else None

    async def _supplier(self) -> None:
        found = await self._find(self.supplier.siret)
        if found is None:
            raise StepFailed(f"{self.supplier.siret} not found by structures/v1/rechercher")
        self._supplier_id = int(found["idStructureCPP"])
        self._supplier_name = found.get("designationStructure")
        self.seen.supplier_structure_id = self._supplier_id

    async def _consult(self, structure_id: int) -> dict[str, Any]:
        answer = await self.probe.call(
            CONSULT_STRUCTURE,
            ConsultStructureRequest(idStructureCPP=structure_id),
            account=self.account,
        )
        return _ok(answer, f"consulter {structure_id}")

    async def _supplier_consult(self) -> None:
        payload = await self._consult(self.supplier_id)
        info = payload.get("informationGenerales") or {}
        expiry = info.get("dateExpirationMotPasseCompteTech")
        self.seen.password_expiry = str(expiry) if expiry is not None else None
        self._supplier_name = info.get("raisonSocialeStructure") or self._supplier_name

    async def _state(self) -> None:
        found = await self._find(STATE_SIRET)
        if found is None:
            self.seen.state = StateDirectory()
            return
        structure_id = int(found["idStructureCPP"])
        payload = await self._consult(structure_id)
        flags = payload.get("parametres") or {}
        answer = await self.probe.call(
            SEARCH_SERVICES,
            SearchServicesRequest(
                idStructure=structure_id, parametresRechercherServicesStructure=_page(1000)
            ),
            account=self.account,
        )
        services = (
            []
            if answer.code in NO_RESULT_CODES
            else _items(_ok(answer, "rechercher/services"), "listeServices")
        )
        self.seen.state = StateDirectory(
            structure_id=structure_id,
            status=found.get("statut"),
            designation=found.get("designationStructure"),
            flags={name: flags.get(name) is True for name in _FLAG_NAMES},
            active_services=tuple(
                str(s.get("codeService")) for s in services if s.get("estActif") is not False
            ),
            inactive_services=tuple(
                str(s.get("codeService")) for s in services if s.get("estActif") is False
            ),
        )

    async def _recipient(self) -> None:
        found = await self._find(self.options.recipient.siret)
        if found is None:
            raise StepFailed(f"recipient {self.options.recipient.siret} not found")
        self._recipient_name = found.get("designationStructure")

    # --- 3-4. invoices -----------------------------------------------------------------------

    async def _submit(self, channel: str, body: Any) -> Submitted:
        answer = await self.probe.call(SUBMIT_INVOICE, body, account=self.account)
        payload = _ok(answer, f"soumettre {channel}")
        submitted = Submitted(
            channel=channel,
            sent_number=body.numeroFactureSaisi,
            chorus_id=int(payload["identifiantFactureCPP"]),
            chorus_number=payload.get("numeroFacture"),
            libelle=payload.get("libelle"),
        )
        self.seen.created.append(submitted)
        return submitted

    async def _upload_pdf(self, number: str) -> int:
        content = pdf_document(number)
        answer = await self.probe.call(
            UPLOAD_ATTACHMENT,
            UploadAttachmentRequest(
                pieceJointeFichier=base64.b64encode(content).decode("ascii"),
                pieceJointeNom=PDF_NAME,
                pieceJointeTypeMime="application/pdf",
                pieceJointeExtension="pdf",
            ),
            account=self.account,
        )
        return int(_ok(answer, "ajouter/fichier")["pieceJointeId"])

    def _body(self, number: str, attachment_id: int | None = None) -> Any:
        return submit_request(
            number,
            issue_date=datetime.now(UTC).date(),
            supplier_id=self.supplier_id,
            recipient=self.options.recipient,
            pdf_attachment_id=attachment_id,
        )

    async def _saisie(self) -> None:
        self._saisie_body = self._body(invoice_number("S", datetime.now(UTC)))
        before = datetime.now(UTC)
        self.seen.saisie = await self._submit("saisie", self._saisie_body)
        self._saisie_window = (before, datetime.now(UTC))

    async def _pdf(self) -> None:
        number = invoice_number("P", datetime.now(UTC))
        attachment_id = await self._upload_pdf(number)
        self.seen.pdf = await self._submit("pdf", self._body(number, attachment_id))

    async def _duplicate(self) -> None:
        # Resend an invoice whose number Chorus kept: one it replaced cannot be a duplicate.
        saisie, pdf = self.seen.saisie, self.seen.pdf
        if saisie is not None and saisie.chorus_number == saisie.sent_number:
            channel, body = "saisie", self._saisie_body
        elif pdf is not None and pdf.chorus_number == pdf.sent_number:
            channel = "pdf"
            body = self._body(pdf.sent_number, await self._upload_pdf(pdf.sent_number))
        else:
            raise StepFailed("no invoice whose number Chorus kept, so none to resend")
        answer = await self.probe.call(SUBMIT_INVOICE, body, account=self.account)
        if answer.succeeded and answer.payload is not None:
            accepted = Submitted(
                channel=channel,
                sent_number=body.numeroFactureSaisi,
                chorus_id=int(answer.payload["identifiantFactureCPP"]),
                chorus_number=answer.payload.get("numeroFacture"),
            )
            self.seen.created.append(accepted)
            self.seen.duplicate = DuplicateProbe(
                channel, body.numeroFactureSaisi, accepted_id=accepted.chorus_id
            )
        else:
            self.seen.duplicate = DuplicateProbe(
                channel, body.numeroFactureSaisi, refusal=answer.exchange()
            )

    async def _flux(self) -> None:
        number = invoice_number("F", datetime.now(UTC))
        recipient = self.options.recipient
        document = cii_document(
            number,
            issue_date=datetime.now(UTC).date(),
            supplier_siret=self.supplier.siret,
            supplier_name=self._supplier_name or self.supplier.siret,
            supplier_vat_number=self.supplier.vat_number,
            supplier_address=self.supplier.address,
            recipient=Recipient(
                recipient.siret, recipient.service_code, recipient.name or self._recipient_name
            ),
        )
        answer = await self.probe.call(
            DEPOSIT_FLUX,
            DepositFluxRequest(
                fichierFlux=base64.b64encode(document).decode("ascii"),
                nomFichier=f"{number}.xml",
                syntaxeFlux="IN_DP_E1_CII_16B",
            ),
            account=self.account,
        )
        flux_number = str(_ok(answer, "deposer/flux")["numeroFluxDepot"])
        self.seen.flux = run = FluxRun(sent_number=number, flux_number=flux_number)
        started = self._clock()
        payload: dict[str, Any] = {}
        state: str | None = None
        waited = 0.0
        while True:
            report = await self.probe.call(
                DETAILED_FLUX_REPORT,
                FluxReportRequest(numeroFluxDepot=flux_number),
                account=self.account,
            )
            payload = _ok(report, "consulterCRDetaille")
            state = str(payload.get("etatCourantDepotFlux") or "") or None
            waited = self._clock() - started
            if state in _FINAL or waited >= self.options.flux_wait_seconds:
                break
            await asyncio.sleep(self.options.flux_poll_seconds)
        final = state if state in _FINAL else None
        try:
            FluxReport.model_validate(payload)
            readable = True
        except ValidationError:
            readable = False
        run = FluxRun(
            sent_number=number,
            flux_number=flux_number,
            final_state=final,
            last_state=state,
            seconds_to_final=waited if final else None,
            waited_seconds=waited,
            report_keys=tuple(sorted(payload)),
            invoice_errors=tuple(
                str(error.get("libelleErreurDP")) for error in _items(payload, "listeErreurDP")
            ),
            technical_errors=tuple(
                str(error.get("libelleErreur")) for error in _items(payload, "listeErreurTechnique")
            ),
            report_readable=readable,
        )
        self.seen.flux = run
        if final in ("IN_INTEGRE", "IN_INTEGRE_PARTIEL"):
            found = await self._search(numeroFluxDepot=flux_number)
            self.seen.flux = replace(
                run,
                found_numbers=tuple(str(i.get("numeroFacture")) for i in found),
                found_ids=tuple(int(i["identifiantFactureCPP"]) for i in found),
            )
            for invoice in found:
                self.seen.created.append(
                    Submitted(
                        channel="flux",
                        sent_number=number,
                        chorus_id=int(invoice["identifiantFactureCPP"]),
                        chorus_number=invoice.get("numeroFacture"),
                    )
                )

    async def _search(self, **criteria: Any) -> list[dict[str, Any]]:
        answer = await self.probe.call(
            SEARCH_SUPPLIER_INVOICES,
            SearchSupplierInvoicesRequest(rechercheFactureParFournisseur=_page(10), **criteria),
            account=self.account,
        )
        if answer.code in NO_RESULT_CODES:
            return []
        return _items(_ok(answer, "rechercher/fournisseur"), "listeFactures")

    # --- 5. answers to nothing and to refusals -----------------------------------------------

    async def _empty_search(self) -> None:
        answer = await self.probe.call(
            SEARCH_SUPPLIER_INVOICES,
            SearchSupplierInvoicesRequest(
                numeroFacture=invoice_number("N", datetime.now(UTC)),
                rechercheFactureParFournisseur=_page(10),
            ),
            account=self.account,
        )
        self.seen.empty_search = answer.exchange()
        if answer.payload is not None and answer.code in (None, 0):
            self.seen.empty_search_results = len(_items(answer.payload, "listeFactures"))

    async def _refusal(self) -> None:
        answer = await self.probe.call(
            CONSULT_INVOICE,
            ConsultInvoiceRequest(identifiantFactureCPP=UNKNOWN_INVOICE_ID),
            account=self.account,
        )
        self.seen.refusal = answer.exchange()

    # --- 6. history --------------------------------------------------------------------------

    async def _history(self) -> None:
        invoice = self.seen.saisie or self.seen.pdf
        if invoice is None or invoice.chorus_id is None:
            raise StepFailed("no invoice was created to read the history of")
        asked = self.options.history_page_size
        answer = await self.probe.call(
            INVOICE_HISTORY,
            InvoiceHistoryRequest(
                idFacture=invoice.chorus_id,
                paramRechercheHistoStatuts=HistoryPageRequest(
                    nbResultatsParPageListeHistoStatut=asked,
                    pageResultatDemandeeListeHistoStatut=1,
                    triColonneListeHistoStatut="HistoStatutDatePassage",
                    triSensListeHistoStatut="Ascendant",
                ),
            ),
            account=self.account,
        )
        history = _ok(answer, "consulter/historique").get("historiquesDesStatuts") or {}
        statuses = _items(history, "histoStatut")
        first = statuses[0].get("histoStatutDatePassage") if statuses else None
        window = self._saisie_window if invoice is self.seen.saisie else None

        def number(key: str) -> int | None:
            value = history.get(key)
            return int(value) if isinstance(value, int | str) and str(value).isdigit() else None

        self.seen.history = HistoryRead(
            asked_page_size=asked,
            statuses=len(statuses),
            page_size=number("nbResultatsParPageHistoStatut"),
            pages=number("pagesHistoStatut"),
            total=number("totalHistoStatut"),
            first_date=first if isinstance(first, str | int) else None,
            submitted_after=window[0] if window else None,
            submitted_before=window[1] if window else None,
        )
