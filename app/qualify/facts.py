"""Each uncertain behaviour as a fact: what the gateway assumes, what Chorus did, do they agree.

Pure: observations and assumptions in, facts out. A fact names the setting that changes the
gateway's side when there is one, and the value that would match what Chorus did.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from app.chorus.auth import DEFAULT_EXPIRES_IN
from app.chorus.classify import DUPLICATE_CODES, NO_RESULT_CODES
from app.chorus.client import DEFAULT_PAGE_SIZE
from app.chorus.schemas import CHORUS_TIMEZONE, HistoStatut, StructureGeneralInfo
from app.domain.lifecycle import ChorusStatus
from app.qualify.dates import date_layout, infer_zone
from app.qualify.observations import Observations
from app.settings import ChorusSettings

STATE_SERVICE = "SFACETAT"
PUBLIC_TO_PUBLIC_SERVICE = "FACTURES_PUBLIQUES"


@dataclass(frozen=True, slots=True)
class Fact:
    """One behaviour: the gateway's assumption next to what Chorus did.

    `matches` is None when the run could not tell. `setting` is the variable that changes the
    gateway's side, and `value` what it should be to match Chorus, when they differ.
    """

    name: str
    assumed: str
    observed: str
    matches: bool | None
    mark: str
    setting: str | None = None
    value: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Assumptions:
    """What the gateway currently assumes: its settings and the client's constants."""

    saisie_keeps_number: bool = False
    duplicate_codes: frozenset[int] = DUPLICATE_CODES
    no_result_codes: frozenset[int] = NO_RESULT_CODES
    default_expires_in: int = DEFAULT_EXPIRES_IN
    token_refresh_margin_seconds: int = 120
    history_page_size: int = DEFAULT_PAGE_SIZE
    timezone: str = CHORUS_TIMEZONE.key
    flux_poll_first_seconds: float = 5.0
    flux_poll_max_seconds: float = 600.0
    flux_max_wait_hours: float = 48.0

    @classmethod
    def from_settings(cls, settings: ChorusSettings) -> Assumptions:
        """The assumptions of a gateway running with these settings."""
        return cls(
            saisie_keeps_number=settings.saisie_keeps_number,
            duplicate_codes=settings.duplicate_code_set,
            no_result_codes=settings.no_result_code_set,
            token_refresh_margin_seconds=settings.token_refresh_margin_seconds,
            flux_poll_first_seconds=settings.flux_poll_first_seconds,
            flux_poll_max_seconds=settings.flux_poll_max_seconds,
            flux_max_wait_hours=settings.flux_max_wait_hours,
        )


def _codes(codes: frozenset[int]) -> str:
    return ", ".join(str(code) for code in sorted(codes))


def _not_run(observations: Observations, step: str) -> str:
    reason = observations.errors.get(step)
    return f"not observed ({reason})" if reason else "not observed"


def _token_facts(observations: Observations, assumed: Assumptions) -> list[Fact]:
    expires_in, scope = observations.token_expires_in, observations.token_scope
    lifetime = Fact(
        "token.lifetime",
        f"expires_in read from each token ({assumed.default_expires_in} s when absent), "
        f"refreshed {assumed.token_refresh_margin_seconds} s early",
        f"expires_in {expires_in:g} s"
        if expires_in is not None
        else _not_run(observations, "token"),
        None if expires_in is None else expires_in > 0,
        "H",
    )
    scopes = (scope or "").split()
    return [
        lifetime,
        Fact(
            "token.scope",
            "scope openid (asked for)",
            f"scope {scope}" if scope else "no scope in the answer",
            None if expires_in is None else (scope is None or "openid" in scopes),
            "H",
        ),
    ]


def _access_facts(observations: Observations) -> list[Fact]:
    wrong, health = observations.wrong_account, observations.health_check
    facts = [
        Fact(
            "auth.wrong_cpro_account",
            "HTTP 401 or 403, empty body: the structure's deliveries pause (auth failure)",
            wrong.describe() if wrong else _not_run(observations, "wrong_account"),
            None if wrong is None else wrong.status in (401, 403),
            "M",
        ),
        Fact(
            "transverses.health_check",
            "GET health-check answers 2xx",
            health.describe() if health else _not_run(observations, "health_check"),
            None if health is None else 200 <= health.status < 300,
            "H",
        ),
    ]
    structure_id = observations.supplier_structure_id
    facts.append(
        Fact(
            "supplier.structure",
            "the supplier's SIRET is found by structures/v1/rechercher (its idStructureCPP)",
            f"idStructureCPP {structure_id}"
            if structure_id is not None
            else _not_run(observations, "supplier"),
            None if structure_id is None else True,
            "H",
        )
    )
    expiry = observations.password_expiry
    consulted = structure_id is not None and "supplier_consult" not in observations.errors
    readable: bool | None = None
    if expiry is not None:
        try:
            info = StructureGeneralInfo.model_validate({"dateExpirationMotPasseCompteTech": expiry})
        except ValidationError:
            readable = False
        else:
            readable = info.dateExpirationMotPasseCompteTech is not None
    elif consulted:
        readable = False
    facts.append(
        Fact(
            "supplier.password_expiry",
            "consulter gives dateExpirationMotPasseCompteTech (health warns 15 days ahead)",
            f"dateExpirationMotPasseCompteTech {expiry}"
            if expiry is not None
            else ("absent" if consulted else _not_run(observations, "supplier_consult")),
            readable,
            "H",
        )
    )
    return facts


def _state_facts(observations: Observations) -> list[Fact]:
    state = observations.state
    if state is None or state.structure_id is None:
        return [
            Fact(
                "state.structure",
                "11000201100044 is an active structure",
                _not_run(observations, "state") if state is None else "not found",
                None if state is None else False,
                "H",
            )
        ]
    status = (state.status or "").upper()
    raised = [name for name, value in sorted(state.flags.items()) if value]
    ej = state.flags.get("numeroEJDoitEtreRenseigne", False)
    service = state.flags.get("codeServiceDoitEtreRenseigne", False)
    listed = ", ".join(state.active_services[:8])
    more = len(state.active_services) - 8
    services = f"{len(state.active_services)} active: {listed}" + (
        f" (+{more})" if more > 0 else ""
    )
    if state.inactive_services:
        services += f"; {len(state.inactive_services)} inactive"
    return [
        Fact(
            "state.structure",
            "11000201100044 is an active structure",
            f"idStructureCPP {state.structure_id}, {state.status or 'no status'}"
            + (f", {state.designation}" if state.designation else ""),
            status in ("ACTIVE", "ACTIF"),
            "H",
        ),
        Fact(
            "state.flags",
            "EJ and SE required (what offline validation demands of the State)",
            "flags set: " + (", ".join(raised) if raised else "none"),
            ej and service,
            "M",
            note="online validation follows Chorus's flags; only offline validation assumes this",
        ),
        Fact(
            "state.services",
            f"{STATE_SERVICE} is an active service (qualification data)",
            services if state.active_services else "no active service",
            STATE_SERVICE in state.active_services,
            "H",
            note=f"{PUBLIC_TO_PUBLIC_SERVICE} is refused by the gateway (public-to-public only)"
            if PUBLIC_TO_PUBLIC_SERVICE in state.active_services
            else None,
        ),
    ]


def _numbering_facts(observations: Observations, assumed: Assumptions) -> list[Fact]:
    facts: list[Fact] = []
    saisie = observations.saisie
    if saisie is not None and saisie.chorus_number is not None:
        kept = saisie.chorus_number == saisie.sent_number
        observed = (
            f"kept ({saisie.sent_number})"
            if kept
            else f"replaced: sent {saisie.sent_number}, Chorus numbered it {saisie.chorus_number}"
            f" ({len(saisie.chorus_number)} characters)"
        )
        differs = kept != assumed.saisie_keeps_number
        facts.append(
            Fact(
                "saisie.number_kept",
                "kept" if assumed.saisie_keeps_number else "replaced by Chorus's own number",
                observed,
                not differs,
                "L",
                setting="CHORUS_SAISIE_KEEPS_NUMBER",
                value=("true" if kept else "false") if differs else None,
                note="when kept, an uncertain SAISIE_API delivery is reconciled by number "
                "instead of failing AMBIGUOUS_DELIVERY",
            )
        )
    else:
        facts.append(
            Fact(
                "saisie.number_kept",
                "kept" if assumed.saisie_keeps_number else "replaced by Chorus's own number",
                _not_run(observations, "saisie"),
                None,
                "L",
                setting="CHORUS_SAISIE_KEEPS_NUMBER",
            )
        )
    pdf = observations.pdf
    facts.append(
        Fact(
            "pdf.number_kept",
            "kept (an uncertain DEPOT_PDF_API delivery is reconciled by number)",
            (
                f"kept ({pdf.sent_number})"
                if pdf.chorus_number == pdf.sent_number
                else f"replaced: sent {pdf.sent_number}, Chorus answered {pdf.chorus_number}"
            )
            if pdf is not None and pdf.chorus_number is not None
            else _not_run(observations, "pdf"),
            None
            if pdf is None or pdf.chorus_number is None
            else pdf.chorus_number == pdf.sent_number,
            "M",
        )
    )
    duplicate = observations.duplicate
    assumed_text = (
        f"codeRetour {_codes(assumed.duplicate_codes)} (CHORUS_DUPLICATE_CODES), HTTP 200 or 400"
    )
    if duplicate is None:
        facts.append(
            Fact("duplicate.refusal", assumed_text, _not_run(observations, "duplicate"), None, "L")
        )
    elif duplicate.refusal is not None:
        code = duplicate.refusal.code
        facts.append(
            Fact(
                "duplicate.refusal",
                assumed_text,
                f"{duplicate.channel} {duplicate.number} sent again: "
                + duplicate.refusal.describe(),
                code is not None and code in assumed.duplicate_codes,
                "L",
                setting=None
                if code is None or code in assumed.duplicate_codes
                else "CHORUS_DUPLICATE_CODES",
                value=None
                if code is None or code in assumed.duplicate_codes
                else _with_code(assumed.duplicate_codes, code),
                note=None
                if code in assumed.duplicate_codes
                else "otherwise a resent invoice is taken for a plain refusal",
            )
        )
    else:
        facts.append(
            Fact(
                "duplicate.refusal",
                assumed_text,
                f"{duplicate.channel} {duplicate.number} sent again: accepted as a second invoice"
                f" (identifiantFactureCPP {duplicate.accepted_id})",
                False,
                "L",
                note="Chorus does not refuse a number it already has: never resend blindly",
            )
        )
    return facts


def _flux_facts(observations: Observations, assumed: Assumptions) -> list[Fact]:
    flux = observations.flux
    poll = (
        f"report read after {assumed.flux_poll_first_seconds:g} s, then doubling up to "
        f"{assumed.flux_poll_max_seconds:g} s; FLUX_TIMEOUT after {assumed.flux_max_wait_hours:g} h"
    )
    if flux is None or flux.flux_number is None:
        reason = _not_run(observations, "flux")
        return [
            Fact("flux.number_kept", "the document's number is kept", reason, None, "H"),
            Fact("flux.integration_time", poll, reason, None, "L"),
            Fact("flux.report", "consulterCRDetaille", reason, None, "H"),
        ]
    integrated = flux.final_state in ("IN_INTEGRE", "IN_INTEGRE_PARTIEL")
    if flux.found_numbers:
        kept = flux.sent_number in flux.found_numbers
        number = Fact(
            "flux.number_kept",
            "the document's number is kept (found by numeroFluxDepot)",
            f"kept ({flux.sent_number})"
            if kept
            else f"sent {flux.sent_number}, found {', '.join(flux.found_numbers)}",
            kept,
            "H",
        )
    else:
        number = Fact(
            "flux.number_kept",
            "the document's number is kept (found by numeroFluxDepot)",
            "no invoice found by numeroFluxDepot"
            if integrated
            else f"not integrated ({flux.final_state or flux.last_state})",
            False if integrated else None,
            "H",
        )
    if flux.final_state is not None and flux.seconds_to_final is not None:
        timing = f"{flux.final_state} after {flux.seconds_to_final:.1f} s"
        in_time = flux.seconds_to_final <= assumed.flux_max_wait_hours * 3600
    else:
        timing = f"still {flux.last_state or 'unknown'} after {flux.waited_seconds:.0f} s"
        in_time = None
    errors = list(flux.invoice_errors) + list(flux.technical_errors)
    report = (
        f"{flux.final_state or flux.last_state}; {len(flux.invoice_errors)} listeErreurDP, "
        f"{len(flux.technical_errors)} listeErreurTechnique"
        + (f"; first: {errors[0]}" if errors else "")
    )
    return [
        number,
        Fact("flux.integration_time", poll, timing, in_time, "L"),
        Fact(
            "flux.report",
            "consulterCRDetaille gives etatCourantDepotFlux and listeErreurDP; a gateway CII "
            "integrates",
            report,
            None
            if flux.final_state is None
            else bool(flux.report_readable) and flux.final_state == "IN_INTEGRE",
            "H",
        ),
    ]


def _with_code(codes: frozenset[int], code: int) -> str:
    """The setting's value that adds `code` to `codes`."""
    return ",".join(str(c) for c in sorted(codes | {code}))


def _answer_facts(observations: Observations, assumed: Assumptions) -> list[Fact]:
    empty = observations.empty_search
    empty_assumed = (
        f"HTTP 200 with codeRetour {_codes(assumed.no_result_codes)} (CHORUS_NO_RESULT_CODES), "
        "or an empty list: both read as no result"
    )
    if empty is None:
        search = Fact(
            "search.empty", empty_assumed, _not_run(observations, "empty_search"), None, "M"
        )
    else:
        listed = (
            f", {observations.empty_search_results} result(s)" if empty.code in (None, 0) else ""
        )
        as_code = empty.code is not None and empty.code in assumed.no_result_codes
        as_list = (
            200 <= empty.status < 300
            and empty.code in (None, 0)
            and observations.empty_search_results == 0
        )
        search = Fact(
            "search.empty",
            empty_assumed,
            empty.describe() + listed,
            as_code or as_list,
            "M",
            setting=None if as_code or as_list or empty.code is None else "CHORUS_NO_RESULT_CODES",
            value=None
            if as_code or as_list or empty.code is None
            else _with_code(assumed.no_result_codes, empty.code),
        )
    refusal = observations.refusal
    return [
        search,
        Fact(
            "refusal.http_status",
            "a business refusal on HTTP 200 or 400 with codeRetour != 0: both read as a refusal",
            f"consulter/fournisseur of an unknown id: {refusal.describe()}"
            if refusal
            else _not_run(observations, "refusal"),
            None
            if refusal is None
            else refusal.status in (200, 400) and refusal.code not in (None, 0),
            "M",
        ),
    ]


def _history_facts(observations: Observations, assumed: Assumptions) -> list[Fact]:
    history = observations.history
    if history is None:
        reason = _not_run(observations, "history")
        return [
            Fact("history.page_size", "", reason, None, "L"),
            Fact("history.date_format", "", reason, None, "M"),
            Fact("history.time_zone", "", reason, None, "M"),
        ]
    paging = (
        f"{history.page_size} per page (asked {history.asked_page_size}), {history.pages} "
        f"page(s), {history.total} status(es)"
        if history.pages is not None
        else f"no paging fields; {history.statuses} status(es) answered"
    )
    facts = [
        Fact(
            "history.page_size",
            f"asks {assumed.history_page_size} statuses per page and reads every page "
            "(pagesHistoStatut)",
            paging,
            history.pages is not None or history.statuses < history.asked_page_size,
            "L",
        )
    ]
    raw = history.first_date
    if raw is None:
        facts += [
            Fact("history.date_format", "YYYY-MM-DD HH:MM", "no date", None, "M"),
            Fact("history.time_zone", assumed.timezone, "no date", None, "M"),
        ]
        return facts
    parsed = HistoStatut.model_validate(
        {"histoStatutCode": ChorusStatus.DEPOSITED, "histoStatutDatePassage": raw}
    ).histoStatutDatePassage
    facts.append(
        Fact(
            "history.date_format",
            "YYYY-MM-DD HH:MM or ISO 8601 (what the client reads)",
            f"{date_layout(raw)} (e.g. {raw!r})",
            parsed is not None,
            "M",
            note=None
            if parsed is not None
            else "no setting: the client reads these dates as None (app/chorus/schemas.py)",
        )
    )
    zone = (
        infer_zone(raw, history.submitted_after, history.submitted_before)
        if history.submitted_after is not None and history.submitted_before is not None
        else "unknown"
    )
    agrees = (
        None
        if zone == "unknown"
        else zone == assumed.timezone or zone.startswith(("explicit offset", "UTC (epoch)"))
    )
    facts.append(
        Fact(
            "history.time_zone",
            f"{assumed.timezone} when a date has no offset",
            zone,
            agrees,
            "M",
            note=None
            if agrees is not False
            else "no setting: the CHORUS_TIMEZONE constant (app/chorus/schemas.py) reads them",
        )
    )
    return facts


def judge(observations: Observations, assumed: Assumptions) -> list[Fact]:
    """Every fact of the run, in the scenario's order."""
    return [
        *_token_facts(observations, assumed),
        *_access_facts(observations),
        *_state_facts(observations),
        *_numbering_facts(observations, assumed),
        *_flux_facts(observations, assumed),
        *_answer_facts(observations, assumed),
        *_history_facts(observations, assumed),
    ]


def setting_changes(facts: list[Fact]) -> dict[str, str]:
    """The settings that would make the gateway's assumptions match what Chorus did."""
    return {
        fact.setting: fact.value
        for fact in facts
        if fact.matches is False and fact.setting is not None and fact.value is not None
    }
