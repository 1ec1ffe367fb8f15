"""French words for what the console shows: gateway statuses, Chorus statuses, outbox work."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from app.domain.lifecycle import ChorusStatus
from app.errors import GatewayError

PARIS = ZoneInfo("Europe/Paris")

STATUS_LABELS = {
    "queued": "En file",
    "submitted": "Transmise",
    "rejected": "Rejetée",
    "paid": "Payée",
    "failed": "En échec",
}
STATUSES = tuple(STATUS_LABELS)

# Chorus keeps its own names; these are how its portal writes them.
CHORUS_LABELS: dict[str, str] = {
    ChorusStatus.DEPOSITED: "Déposée",
    ChorusStatus.IN_TRANSIT: "En cours d'acheminement",
    ChorusStatus.MADE_AVAILABLE: "Mise à disposition",
    ChorusStatus.REJECTED: "Rejetée",
    ChorusStatus.SUSPENDED: "Suspendue",
    ChorusStatus.MANDATED: "Mandatée",
    ChorusStatus.PAYMENT_ISSUED: "Mise en paiement",
    ChorusStatus.BOOKED: "Comptabilisée",
    ChorusStatus.ABANDONED: "Abandonnée",
    ChorusStatus.DELETED: "Supprimée",
    ChorusStatus.SERVICE_DONE: "Service fait",
    ChorusStatus.TO_RECYCLE: "À recycler",
}

OUTBOX_KIND_LABELS = {
    "invoice.deliver": "Dépôt dans Chorus",
    "invoice.sync": "Suivi du statut",
    "invoice.follow_flux": "Suivi du flux",
    "event.fan_out": "Répartition d'un événement",
    "webhook.deliver": "Envoi de webhook",
}

EVENT_LABELS = {
    "invoice.queued": "Mise en file",
    "invoice.submitted": "Transmise à Chorus",
    "invoice.status_changed": "Statut Chorus changé",
    "invoice.rejected": "Rejetée",
    "invoice.paid": "Payée",
    "invoice.failed": "En échec",
    "webhook.test": "Événement de test",
}


def refusal(exc: GatewayError) -> str:
    """A service's refusal as a form's answer says it: the code, then each problem."""
    details = "; ".join(f"{e.field} : {e.message}" for e in exc.errors)
    return f"Refusé ({exc.code}) : {details or exc.detail or exc.title}"


def status_label(status: str | None) -> str:
    """The gateway status in French."""
    return STATUS_LABELS.get(status or "", status or "—")


def chorus_label(status: str | None) -> str:
    """Chorus's status as its portal words it (the code itself when unknown)."""
    if not status:
        return "—"
    return CHORUS_LABELS.get(status, status.replace("_", " ").capitalize())


def kind_label(kind: str) -> str:
    """An outbox kind in French."""
    return OUTBOX_KIND_LABELS.get(kind, kind)


def event_label(kind: str) -> str:
    """An event type in French."""
    return EVENT_LABELS.get(kind, kind)


def outcome_class(state: str, last_error: str | None) -> tuple[str, str]:
    """An outbox item's outcome class (css, French words) from its state and last error."""
    if state == "done":
        return "ok", "Réussi"
    if state == "failed":
        return "bad", "Abandonné"
    if not last_error:
        return "wait", "En attente"
    lowered = last_error.lower()
    if "ambiguous" in lowered or "timeout" in lowered:
        return "warn", "Incertain, sera vérifié"
    if "paused" in lowered or "401" in lowered or "auth" in lowered:
        return "warn", "Compte technique refusé"
    return "warn", "Erreur passagère, nouvel essai prévu"


def when(value: datetime | None) -> str:
    """A timestamp in Paris time, as French users read it."""
    if value is None:
        return "—"
    return value.astimezone(PARIS).strftime("%d/%m/%Y %H:%M:%S")


def age(seconds: float | None) -> str:
    """A duration in words: `4 min 12 s`, `2 h 05`, `3 j`."""
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d}"
    return f"{seconds // 86400} j"
