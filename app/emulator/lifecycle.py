"""How an invoice's status moves after `soumettre`: pure functions over a list of events.

The transition table is inferred from peer clients (chorus-pro.md §4, [M]); no official one was
readable. In `auto` mode the whole path is planned at submission with future timestamps and the
current status is whatever event is due at read time, so there is no background task and a test
moves invoices on by advancing the clock.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

DEPOSEE = "DEPOSEE"
REJETEE = "REJETEE"
SUSPENDUE = "SUSPENDUE"
NOMINAL_PATH = ("EN_COURS_ACHEMINEMENT", "MISE_A_DISPOSITION", "MANDATEE", "MISE_EN_PAIEMENT")
# The buyer decides after the invoice reached it (MISE_A_DISPOSITION), so refusals come third.
STEPS_BEFORE_DECISION = 2
NEEDS_REASON = frozenset({REJETEE, SUSPENDUE})
# Nothing moves an invoice out of these (chorus-pro.md §4): a rejected invoice is issued anew.
FINAL_STATUSES = frozenset({REJETEE, "MISE_EN_PAIEMENT", "ABANDONNEE", "SUPPRIMEE"})

# Every status code Chorus uses for an invoice (PGF `IStatutFacture`, [H]).
INVOICE_STATUSES = frozenset(
    """
    BROUILLON A_VALIDER_1 ERREUR_FOURNISSEUR_SUR_VALIDEUR REFUSEE_1 VALIDEE_1
    ABSENCE_VALIDATION_1_HORS_DELAI A_VALIDER_2 ERREUR_COTRAITANT_SUR_VALIDEUR REFUSEE_2 VALIDEE_2
    ABSENCE_VALIDATION_2_HORS_DELAI DEPOSEE ERREUR_FOURNISSEUR_SUR_MOE EN_COURS_ACHEMINEMENT
    MISE_A_DISPOSITION A_RECYCLER SUSPENDUE REJETEE MANDATEE MISE_EN_PAIEMENT COMPTABILISEE
    MISE_A_DISPOSITION_COMPTABLE ABANDONNEE SUPPRIMEE ASSOCIEE EN_COURS_TRAITEMENT_PIVOT_S
    A_VALIDER_MOE REFUSEE_MOE EN_ATTENTE_RECYCLAGE_FOURNISSEUR ERREUR_MOE_SUR_FOURNISSEUR
    ERREUR_MOA_SUR_FOURNISSEUR INTERPRETEE_OCR COMPLETEE ERREUR_FOURNISSEUR_SUR_MOA
    ERREUR_MOE_SUR_MOA ERREUR_DESTINATAIRE_PD ERREUR_DESTINATAIRE_EA SERVICE_FAIT NON_CONFORME
    A_ASSOCIER_MOE ERREUR_DE_MOE MISE_A_DISPOSITION_MOE PRISE_EN_COMPTE_MOE A_ASSOCIER_MOA
    ERREUR_DE_MOA REFUSEE_MOA A_ASSOCIER_FOURNISSEUR REFUSEE_FOURNISSEUR A_COMPLETER TRANSMISE_MOA
    PRISE_EN_COMPTE_DESTINATAIRE REMPLACEE_PAR_A22 DUPLIQUE_APRES_REFUS MISE_A_DISPOSITION_MOA
    PRISE_EN_COMPTE_MOA ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE TECHNIQUE_INCONNU
    """.split()
)

Fate = Literal["paid", "rejected", "suspended"]


class StatusEvent(BaseModel):
    """One entry of an invoice's history; `at` may lie in the future for a planned step."""

    id: int
    code: str
    at: datetime
    comment: str | None = None


def fate_of(key: str, rejected_share: float, suspended_share: float) -> Fate:
    """Where an invoice ends in auto mode, decided by a hash of `key` so runs are reproducible."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    draw = int.from_bytes(digest[:8], "big") / 2**64
    if draw < rejected_share:
        return "rejected"
    if draw < rejected_share + suspended_share:
        return "suspended"
    return "paid"


def planned_steps(
    fate: Fate, rejection_reason: str, suspension_reason: str
) -> list[tuple[str, str | None]]:
    """The statuses (with their comment) an invoice passes through after DEPOSEE."""
    reached: list[tuple[str, str | None]] = [
        (code, None) for code in NOMINAL_PATH[:STEPS_BEFORE_DECISION]
    ]
    if fate == "rejected":
        return [*reached, (REJETEE, rejection_reason)]
    if fate == "suspended":
        return [*reached, (SUSPENDUE, suspension_reason)]
    return [(code, None) for code in NOMINAL_PATH]


def schedule(
    received_at: datetime,
    step_seconds: float,
    steps: list[tuple[str, str | None]],
    first_id: int,
) -> list[StatusEvent]:
    """DEPOSEE now, then one step every `step_seconds`; ids are consecutive from `first_id`."""
    codes: list[tuple[str, str | None]] = [(DEPOSEE, None), *steps]
    return [
        StatusEvent(
            id=first_id + index,
            code=code,
            at=received_at + timedelta(seconds=step_seconds * index),
            comment=comment,
        )
        for index, (code, comment) in enumerate(codes)
    ]


def visible(events: list[StatusEvent], now: datetime) -> list[StatusEvent]:
    """The events that already happened, oldest first."""
    return [event for event in events if event.at <= now]


def current(events: list[StatusEvent], now: datetime) -> StatusEvent:
    """The status in force at `now` (DEPOSEE is always there)."""
    return visible(events, now)[-1]


def transition_refusal(current_code: str, code: str) -> str | None:
    """Why a buyer may not move an invoice from `current_code` to `code`, or None if it may."""
    if current_code in FINAL_STATUSES:
        return f"the invoice is {current_code}, a final status: it cannot become {code}"
    if code == DEPOSEE:
        return "only soumettre deposits an invoice: no buyer action leads back to DEPOSEE"
    return None


def override(
    events: list[StatusEvent], now: datetime, event_id: int, code: str, comment: str | None
) -> list[StatusEvent]:
    """The history after a buyer action at `now`: planned steps are dropped, the action appended."""
    return [*visible(events, now), StatusEvent(id=event_id, code=code, at=now, comment=comment)]
