"""The chaos scenario, run by `tests/e2e/test_chaos.py` and `scripts/chaos.py`.

1. Start a cluster (emulator in manual lifecycle, API, N workers, a fresh database), the
   gateway delivering through one channel (`CHORUS_DELIVERY_FORMAT`: cii, ubl, facturx, pdf or
   saisie), with short flux processing and polling delays.
2. Inject probabilistic faults into the emulator (5xx, 429/503 with Retry-After, read timeouts,
   committed-then-dropped responses, latency) on the deposit endpoints (soumettre, deposer/flux,
   ajouter/fichier), the reads (search, consulterCR, consulterCRDetaille) and the token.
3. Post invoices concurrently (multipart with a small PDF on facturx and pdf), each with an
   Idempotency-Key (a transport failure is retried with the same key), while the workers
   deliver them.
4. While the backlog drains, SIGKILL a worker that holds leases (work in flight) and start a
   replacement, `kills` times.
5. Wait, bounded, until no invoice is `queued`; clear the faults; SIGTERM the workers.
6. Judge from the emulator's ground truth, matching Chorus's invoices to the gateway's by the
   number their sender gave (the emulator keeps it even where Chorus numbers the invoice
   itself): every accepted invoice in Chorus exactly once, with the Chorus id the gateway
   recorded. On `saisie`, where Chorus numbers the invoice, the gateway cannot look for an
   earlier attempt, so an ambiguous outcome ends `failed` with AMBIGUOUS_DELIVERY and is never
   resent: those are counted (in Chorus or not) rather than lost, and must never be duplicated.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from app.domain.identifiers import STATE_SIRET
from harness.cluster import SUPPLIER_SIRETS, Cluster, ClusterConfig
from harness.databases import Backend
from harness.processes import Proc
from harness.samples import (
    OTHER_SUPPLIER_SIRET,
    OTHER_SUPPLIER_VAT_NUMBER,
    SUPPLIER_SIRET,
    SUPPLIER_VAT_NUMBER,
    blank_pdf,
    invoice_payload,
)

SUBMIT = "factures/v1/soumettre"
DEPOSIT = "factures/v1/deposer/flux"
UPLOAD = "transverses/v1/ajouter/fichier"
SEARCH = "factures/v1/rechercher/fournisseur"
REPORT = "transverses/v1/consulterCR"
REPORT_DETAILED = "transverses/v1/consulterCRDetaille"
TOKEN = "oauth/token"  # noqa: S105 - an endpoint path, not a secret

CHANNELS = ("cii", "ubl", "facturx", "pdf", "saisie")
# The channels whose invoices the ERP sends with a PDF (multipart).
PDF_CHANNELS = frozenset({"facturx", "pdf"})
AMBIGUOUS_DELIVERY = "AMBIGUOUS_DELIVERY"
# Short enough that a flux's report is final by the first poll, or the second.
FLUX_PROCESSING_SECONDS = "0.5"
FAST_FLUX_POLLING: dict[str, str] = {
    "CHORUS_FLUX_POLL_FIRST_SECONDS": "0.5",
    "CHORUS_FLUX_POLL_MAX_SECONDS": "2",
}
SUPPLIER_VAT = {
    SUPPLIER_SIRET: SUPPLIER_VAT_NUMBER,
    OTHER_SUPPLIER_SIRET: OTHER_SUPPLIER_VAT_NUMBER,
}
# The State's address as an ERP would state it (EN 16931 wants the buyer's).
BUYER_ADDRESS = {"line1": "139 rue de Bercy", "postal_code": "75012", "city": "Paris"} | {
    "country_code": "FR"
}


def fault_rules(scale: float = 1.0) -> list[dict[str, Any]]:
    """The faults of a chaos run; `scale` multiplies every probability (0 turns them off)."""
    # Rules on endpoints a channel does not call never fire: one list serves every channel.
    rules: list[tuple[str, str, float, dict[str, int]]] = [
        *(
            rule
            for endpoint in (SUBMIT, DEPOSIT)
            for rule in [
                (endpoint, "http_500", 0.04, {}),
                (endpoint, "http_502", 0.04, {}),
                (endpoint, "http_503", 0.04, {"retry_after": 1}),
                (endpoint, "http_429", 0.04, {"retry_after": 1}),
                (endpoint, "read_timeout", 0.04, {"delay_ms": 2500}),
                (endpoint, "commit_then_drop", 0.05, {}),
                (endpoint, "latency", 0.05, {"delay_ms": 200}),
            ]
        ),
        (UPLOAD, "http_503", 0.03, {"retry_after": 1}),
        (UPLOAD, "read_timeout", 0.03, {"delay_ms": 2500}),
        (UPLOAD, "commit_then_drop", 0.03, {}),
        *(
            rule
            for endpoint in (SEARCH, REPORT, REPORT_DETAILED)
            for rule in [
                (endpoint, "http_500", 0.03, {}),
                (endpoint, "http_503", 0.03, {"retry_after": 1}),
                (endpoint, "read_timeout", 0.03, {"delay_ms": 2500}),
                (endpoint, "latency", 0.05, {"delay_ms": 200}),
            ]
        ),
        # A token is fetched once per worker process: a high rate makes those few calls fail.
        (TOKEN, "http_503", 0.25, {"retry_after": 1}),
        (TOKEN, "http_500", 0.15, {}),
    ]
    return [
        {"endpoint": endpoint, "kind": kind, "probability": min(1.0, p * scale), **extra}
        for endpoint, kind, p, extra in rules
        if p * scale > 0
    ]


@dataclass
class ChaosOptions:
    """One chaos run."""

    invoices: int = 2000
    workers: int = 2
    kills: int = 2
    database: Backend = "postgresql"
    workdir: Path = field(default_factory=lambda: Path("chaos-run"))
    # How the gateway delivers (CHORUS_DELIVERY_FORMAT), and who numbers a SAISIE_API invoice.
    channel: str = "cii"
    saisie_numbering: str = "chorus"
    concurrency: int = 16
    seed: int = 20261126
    fault_scale: float = 1.0
    # Replaces the default rules (`fault_rules()`) when given: `PUT /_emulator/faults` rules.
    faults: list[dict[str, Any]] | None = None
    # Bounds the whole run from the first post to the last invoice leaving `queued`.
    timeout_seconds: float = 600.0
    # Extra settings for the workers (e.g. OUTBOX_BATCH_SIZE), over the fast defaults.
    worker_env: dict[str, str] = field(default_factory=dict)


@dataclass
class Kill:
    """One SIGKILL: which worker, how much work it had in hand, when."""

    worker: str
    pid: int
    leases_held: int
    at_seconds: float
    delivered_before: int
    replacement: str


@dataclass
class ChaosReport:
    """The figures of a run and its verdict."""

    cores: int
    database: Backend
    workers: int
    invoices_requested: int
    channel: str = "cii"
    saisie_numbering: str = "chorus"
    accepted: int = 0
    post_retries: int = 0
    post_replays: int = 0
    post_refusals: list[str] = field(default_factory=list)
    fault_rules_fired: dict[str, int] = field(default_factory=dict)
    faults_fired: dict[str, int] = field(default_factory=dict)
    chorus_calls: dict[str, int] = field(default_factory=dict)
    kills: list[Kill] = field(default_factory=list)
    kills_missed: int = 0
    duplicates: list[str] = field(default_factory=list)
    duplicates_refused: int = 0
    lost: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    # Failed with AMBIGUOUS_DELIVERY: the gateway could not tell whether Chorus has it.
    ambiguous: list[str] = field(default_factory=list)
    ambiguous_in_chorus: int = 0
    # The gateway's reason for each (its failure detail), counted.
    ambiguous_causes: dict[str, int] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)
    still_queued: list[str] = field(default_factory=list)
    id_mismatches: list[str] = field(default_factory=list)
    unknown_in_chorus: list[str] = field(default_factory=list)
    gateway_rows: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    emulator_total: int = 0
    chorus_modes: dict[str, int] = field(default_factory=dict)
    flux_states: dict[str, int] = field(default_factory=dict)
    seconds_posting: float = 0.0
    seconds_to_drain: float | None = None
    timed_out: bool = False
    worker_exit_codes: dict[str, int | None] = field(default_factory=dict)
    worker_log_counts: dict[str, int] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    workdir: str = ""

    @property
    def ok(self) -> bool:
        """No duplicate, nothing lost or failed, no wrong Chorus id, drained in time.

        An ambiguous delivery is an accepted outcome only where the gateway cannot look for an
        earlier attempt: SAISIE_API with Chorus numbering.
        """
        ambiguity_allowed = self.channel == "saisie" and self.saisie_numbering == "chorus"
        return not (
            self.duplicates
            or self.lost
            or self.failed
            or (self.ambiguous and not ambiguity_allowed)
            or self.id_mismatches
            or self.unknown_in_chorus
            or self.timed_out
        )

    def render(self) -> str:
        """The figures, one per line."""
        drain = "timed out" if self.seconds_to_drain is None else f"{self.seconds_to_drain:.1f}"
        rate = (
            f"{self.accepted / self.seconds_to_drain:.1f} invoices/s"
            if self.seconds_to_drain
            else "n/a"
        )
        kills = ", ".join(
            f"{k.worker} (pid {k.pid}, {k.leases_held} leased items, at {k.at_seconds:.1f} s, "
            f"{k.delivered_before} delivered) -> {k.replacement}"
            for k in self.kills
        )
        numbering = f", SAISIE_API numbered by {self.saisie_numbering}"
        lines = [
            f"machine cores:          {self.cores}",
            f"database:               {self.database}",
            f"channel:                {self.channel}"
            + (numbering if self.channel == "saisie" else ""),
            f"workers:                {self.workers}",
            f"invoices requested:     {self.invoices_requested}",
            f"invoices accepted:      {self.accepted} (post retries {self.post_retries}, "
            f"replays {self.post_replays}, refused {len(self.post_refusals)})",
            f"faults fired:           {sum(self.faults_fired.values())} {_fmt(self.faults_fired)}",
            f"  by rule:              {_fmt(self.fault_rules_fired)}",
            f"chorus calls:           {_fmt(self.chorus_calls)}",
            f"kills (SIGKILL):        {len(self.kills)}{': ' + kills if kills else ''}"
            + (f" ({self.kills_missed} missed: drained first)" if self.kills_missed else ""),
            f"duplicates:             {len(self.duplicates)} {_few(self.duplicates)}",
            f"lost:                   {len(self.lost)} {_few(self.lost)}",
            f"failed:                 {len(self.failed)} {_few(self.failed)}",
            f"ambiguous (failed):     {len(self.ambiguous)} (in chorus {self.ambiguous_in_chorus}, "
            f"not in chorus {len(self.ambiguous) - self.ambiguous_in_chorus}) "
            f"{_few(self.ambiguous)}",
            f"  causes:               {_fmt(self.ambiguous_causes)}",
            f"rejected:               {len(self.rejected)} {_few(self.rejected)}",
            f"still queued:           {len(self.still_queued)} {_few(self.still_queued)}",
            f"chorus id mismatches:   {len(self.id_mismatches)} {_few(self.id_mismatches)}",
            f"in chorus, not accepted:{len(self.unknown_in_chorus):>2} "
            f"{_few(self.unknown_in_chorus)}",
            f"gateway statuses:       {_fmt(self.statuses)} ({self.gateway_rows} rows)",
            f"emulator invoices:      {self.emulator_total} "
            f"(duplicate submissions refused by Chorus: {self.duplicates_refused}; "
            f"by mode {_fmt(self.chorus_modes)})",
            f"flux deposited:         {sum(self.flux_states.values())} {_fmt(self.flux_states)}",
            f"seconds posting:        {self.seconds_posting:.1f}",
            f"seconds to drain:       {drain} (from the first post; {rate})",
            f"workers stopped (TERM): {_fmt(self.worker_exit_codes)}",
            f"worker attempts (logs): {_fmt(self.worker_log_counts)}",
            f"cpu seconds (live):     {_fmt(self.cpu_seconds)}",
            f"logs:                   {self.workdir}",
            f"verdict:                {'OK' if self.ok else 'FAILED'}",
        ]
        return "\n".join(lines)


def _fmt(counts: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + "}"


def _few(items: list[str], limit: int = 5) -> str:
    if not items:
        return ""
    more = f" ... (+{len(items) - limit})" if len(items) > limit else ""
    return "[" + ", ".join(items[:limit]) + more + "]"


# -- the run -----------------------------------------------------------------------------------


async def run_chaos(options: ChaosOptions) -> ChaosReport:
    """Run the scenario end to end and judge it; the cluster is always torn down."""
    report = ChaosReport(
        cores=os.cpu_count() or 0,
        database=options.database,
        workers=options.workers,
        invoices_requested=options.invoices,
        channel=options.channel,
        saisie_numbering=options.saisie_numbering,
        workdir=str(options.workdir),
    )
    if options.channel not in CHANNELS:
        raise ValueError(f"unknown channel {options.channel!r}; known: {', '.join(CHANNELS)}")
    config = ClusterConfig(
        database=options.database,
        workdir=options.workdir,
        # The API chooses the channel at submission; the workers deliver and poll.
        gateway_env={"CHORUS_DELIVERY_FORMAT": options.channel} | FAST_FLUX_POLLING,
        emulator_env={
            "EMULATOR_FLUX_PROCESSING_SECONDS": FLUX_PROCESSING_SECONDS,
            "EMULATOR_SAISIE_NUMBERING": options.saisie_numbering,
        },
    )
    config.worker_env |= options.worker_env
    async with Cluster(config) as cluster:
        await cluster.start(workers=options.workers)
        async with (
            httpx.AsyncClient(base_url=cluster.emulator_url, timeout=30, trust_env=False) as emu,
            httpx.AsyncClient(
                base_url=cluster.api_url,
                timeout=30,
                trust_env=False,
                headers={"Authorization": f"Bearer {cluster.api_key}"},
                limits=httpx.Limits(max_connections=options.concurrency + 4),
            ) as api,
        ):
            await _run(cluster, emu, api, options, report)
            for process in cluster.processes:
                cpu = process.cpu_seconds() if process.alive else None
                if cpu is not None:
                    report.cpu_seconds[process.name] = round(cpu, 1)
            report.worker_exit_codes = await cluster.stop_workers()
            report.worker_log_counts = _scan_worker_logs(cluster.processes)
    return report


async def _run(
    cluster: Cluster,
    emu: httpx.AsyncClient,
    api: httpx.AsyncClient,
    options: ChaosOptions,
    report: ChaosReport,
) -> None:
    rules = fault_rules(options.fault_scale) if options.faults is None else options.faults
    plan = {"rules": rules, "seed": options.seed}
    (await emu.put("/_emulator/faults", json=plan)).raise_for_status()
    started = time.monotonic()
    deadline = started + options.timeout_seconds
    posted = asyncio.Event()
    accepted: dict[str, tuple[str, str]] = {}
    kills = asyncio.create_task(_kill_on_schedule(cluster, options, report, posted, started))
    try:
        try:
            await asyncio.wait_for(
                _post_all(api, options, accepted, report),
                timeout=max(0.0, deadline - time.monotonic()),
            )
        except TimeoutError:
            report.timed_out = True
        finally:
            posted.set()
        report.seconds_posting = time.monotonic() - started
        report.accepted = len(accepted)
        if not report.timed_out and await _wait_drained(api, deadline):
            report.seconds_to_drain = time.monotonic() - started
        else:
            report.timed_out = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(kills), timeout=10)
    finally:
        kills.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await kills
    faults = (await emu.get("/_emulator/faults")).json()
    (await emu.delete("/_emulator/faults")).raise_for_status()
    for active in faults["rules"]:
        rule = active["rule"]
        if active["fired"]:
            report.fault_rules_fired[f"{rule['endpoint']}:{rule['kind']}"] = active["fired"]
    stats = (await emu.get("/_emulator/stats")).json()
    report.faults_fired = dict(stats["faults_fired"])
    report.chorus_calls = dict(stats["calls"])
    truth = (await emu.get("/_emulator/invoices")).json()
    flux = (await emu.get("/_emulator/flux")).json()
    report.flux_states = dict(Counter(str(entry["state"]) for entry in flux))
    gateway = await _all_invoices(api)
    _judge(report, accepted, truth, gateway)


async def _post_all(
    api: httpx.AsyncClient,
    options: ChaosOptions,
    accepted: dict[str, tuple[str, str]],
    report: ChaosReport,
) -> None:
    """Post every invoice, `concurrency` at a time; fills `accepted` (id -> supplier, number)."""
    tag = secrets.token_hex(2).upper()
    today = date.today()
    # A valid one-page PDF (a few hundred bytes), the visual copy an ERP would send.
    pdf = blank_pdf() if options.channel in PDF_CHANNELS else None
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    for i in range(options.invoices):
        supplier = SUPPLIER_SIRETS[i % len(SUPPLIER_SIRETS)]
        payload = invoice_payload(
            invoice_number=f"CH{tag}-{i:06d}",
            issue_date=today.isoformat(),
            due_date=(today + timedelta(days=30)).isoformat(),
            supplier={
                "siret": supplier,
                "name": f"Fournisseur {supplier}",
                "vat_number": SUPPLIER_VAT[supplier],
            },
            buyer={
                "siret": STATE_SIRET,
                "service_code": "SFACETAT",
                "name": "Etat",
                "address": BUYER_ADDRESS,
            },
        )
        queue.put_nowait((f"chaos-{tag}-{i}", payload))

    async def poster() -> None:
        while not queue.empty():
            key, payload = queue.get_nowait()
            invoice = await _post_one(api, key, payload, report, pdf)
            if invoice is not None:
                accepted[invoice["id"]] = (invoice["supplier"]["siret"], invoice["invoice_number"])

    await asyncio.gather(*(poster() for _ in range(options.concurrency)))


async def _post_one(
    api: httpx.AsyncClient,
    key: str,
    payload: dict[str, Any],
    report: ChaosReport,
    pdf: bytes | None = None,
) -> dict[str, Any] | None:
    """One invoice, retried with the same key on transport errors, 5xx and in-flight 409.

    With `pdf`, posted as multipart: the invoice JSON in `invoice`, the PDF in `file`.
    """
    for attempt in range(1, 31):
        try:
            if pdf is None:
                response = await api.post(
                    "/v1/invoices", json=payload, headers={"Idempotency-Key": key}
                )
            else:
                response = await api.post(
                    "/v1/invoices",
                    data={"invoice": json.dumps(payload)},
                    files={"file": ("facture.pdf", pdf, "application/pdf")},
                    headers={"Idempotency-Key": key},
                )
        except httpx.TransportError:
            report.post_retries += 1
            await asyncio.sleep(min(1.0, 0.1 * attempt))
            continue
        if response.status_code == 201:
            if response.headers.get("Idempotent-Replayed") == "true":
                report.post_replays += 1
            body: dict[str, Any] = response.json()
            return body
        in_flight = response.status_code == 409 and "IN_FLIGHT" in response.text
        if in_flight or response.status_code >= 500:
            report.post_retries += 1
            await asyncio.sleep(float(response.headers.get("Retry-After", "0.2")))
            continue
        report.post_refusals.append(
            f"{payload['invoice_number']}: {response.status_code} {response.text[:200]}"
        )
        return None
    report.post_refusals.append(f"{payload['invoice_number']}: gave up after 30 attempts")
    return None


async def _kill_on_schedule(
    cluster: Cluster,
    options: ChaosOptions,
    report: ChaosReport,
    posted: asyncio.Event,
    started: float,
) -> None:
    """SIGKILL a worker holding leases each time another 1/(kills+1) of the work is delivered."""
    for k in range(1, options.kills + 1):
        target = options.invoices * k / (options.kills + 1)
        while True:
            delivered = await cluster.scalar(
                "SELECT count(*) FROM invoice WHERE status <> 'queued'"
            )
            if delivered >= target:
                break
            if posted.is_set() and await cluster.invoices_with_status("queued") == 0:
                report.kills_missed += options.kills - k + 1
                return
            await asyncio.sleep(0.1)
        victim, held = await _busy_worker(cluster)
        if victim is None:
            report.kills_missed += 1
            continue
        cluster.kill_worker(victim)
        replacement = cluster.start_worker()
        report.kills.append(
            Kill(
                worker=victim.name,
                pid=victim.pid,
                leases_held=held,
                at_seconds=time.monotonic() - started,
                delivered_before=delivered,
                replacement=replacement.name,
            )
        )


async def _busy_worker(cluster: Cluster, within: float = 5.0) -> tuple[Proc | None, int]:
    """The live worker with the most items in flight, waiting up to `within` s for one to have
    some; failing that, the oldest live worker (0 items)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        held = [(await cluster.leases_held(w.name), w) for w in cluster.workers if w.alive]
        busiest = max(held, key=lambda pair: pair[0], default=None)
        if busiest is not None and busiest[0] > 0:
            return busiest[1], busiest[0]
        await asyncio.sleep(0.02)
    live = [w for w in cluster.workers if w.alive]
    return (live[0], 0) if live else (None, 0)


async def _wait_drained(api: httpx.AsyncClient, deadline: float) -> bool:
    """Until no invoice is `queued` (through the API), or the deadline."""
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            response = await api.get("/v1/invoices", params={"status": "queued", "limit": 1})
            if response.status_code == 200 and not response.json()["items"]:
                return True
        await asyncio.sleep(0.25)
    return False


async def _all_invoices(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Every invoice the client sees, following the cursor (bounded)."""
    invoices: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(10_000):
        params: dict[str, str | int] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        response = await api.get("/v1/invoices", params=params)
        response.raise_for_status()
        page = response.json()
        invoices.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    return invoices


def _judge(
    report: ChaosReport,
    accepted: dict[str, tuple[str, str]],
    truth: dict[str, Any],
    gateway: list[dict[str, Any]],
) -> None:
    """Compare what the gateway accepted and recorded with what Chorus (the emulator) holds.

    Chorus's invoices are matched to the gateway's by supplier and the number the sender gave
    (`sender_number`; Chorus's own number differs in SAISIE_API under Chorus numbering).
    """
    in_chorus: dict[tuple[str, str], list[int]] = {}
    for invoice in truth["invoices"]:
        number = invoice.get("sender_number") or invoice["number"]
        in_chorus.setdefault((invoice["supplier_siret"], number), []).append(invoice["id"])
    report.emulator_total = int(truth["total"])
    report.duplicates_refused = int(truth["duplicates_refused"])
    report.chorus_modes = dict(Counter(str(invoice["mode"]) for invoice in truth["invoices"]))
    report.duplicates = [
        f"{supplier}/{number} x{len(ids)} {ids}"
        for (supplier, number), ids in sorted(in_chorus.items())
        if len(ids) > 1
    ]
    by_id = {invoice["id"]: invoice for invoice in gateway}
    report.gateway_rows = len(gateway)
    report.statuses = dict(Counter(invoice["status"] for invoice in gateway))
    for invoice_id, pair in sorted(accepted.items()):
        invoice = by_id.get(invoice_id)
        status = invoice["status"] if invoice else "missing from the gateway"
        label = f"{pair[0]}/{pair[1]} ({invoice_id}, {status})"
        chorus_ids = in_chorus.get(pair)
        if (
            status == "failed"
            and invoice is not None
            and _failure_code(invoice) == (AMBIGUOUS_DELIVERY)
        ):
            # Never resent: in Chorus at most once (a second copy is a duplicate above).
            report.ambiguous.append(f"{label}: {'in chorus' if chorus_ids else 'not in chorus'}")
            report.ambiguous_in_chorus += bool(chorus_ids)
            # The detail's first clause names the call and the error; the rest is advice.
            cause = str((invoice.get("failure") or {}).get("detail") or "").split(";")[0][:100]
            report.ambiguous_causes[cause] = report.ambiguous_causes.get(cause, 0) + 1
            continue
        if status == "failed":
            report.failed.append(f"{label}: {_failure_code(invoice) if invoice else None}")
        elif status == "rejected":
            report.rejected.append(label)
        elif status == "queued":
            report.still_queued.append(label)
        if chorus_ids is None:
            if status not in ("failed", "rejected", "queued"):
                report.lost.append(label)
            continue
        recorded = invoice["chorus"]["invoice_id"] if invoice else None
        if recorded not in chorus_ids:
            report.id_mismatches.append(f"{label}: gateway {recorded}, chorus {chorus_ids}")
    accepted_pairs = set(accepted.values())
    report.unknown_in_chorus = [
        f"{supplier}/{number}"
        for supplier, number in sorted(in_chorus)
        if (supplier, number) not in accepted_pairs
    ]


def _failure_code(invoice: dict[str, Any]) -> str | None:
    """Why the gateway stopped: `failure.code`, else the code the last history entry begins with."""
    failure = invoice.get("failure") or {}
    if failure.get("code"):
        return str(failure["code"])
    history = invoice.get("history") or []
    detail = str(history[-1].get("detail") or "") if history else ""
    return AMBIGUOUS_DELIVERY if detail.startswith(AMBIGUOUS_DELIVERY) else None


def _scan_worker_logs(processes: list[Proc]) -> dict[str, int]:
    """What the workers' JSON log lines say: attempts by outcome, leases lost, errors."""
    counts: Counter[str] = Counter()
    for process in processes:
        if not process.name.startswith("w"):
            continue
        with contextlib.suppress(OSError):
            text = process.log_path.read_text(encoding="utf-8", errors="replace")
            counts["traceback"] += text.count("Traceback")
            for line in text.splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(record, dict):
                    continue
                if record.get("level") in ("error", "critical", "exception"):
                    counts["errors"] += 1
                if record.get("event") == "outbox.attempt":
                    counts[f"{record.get('kind')}:{record.get('outcome')}"] += 1
                    if record.get("recorded") is False:
                        counts["lease_lost"] += 1
    return dict(counts)
