"""XML ingest benchmark: `POST /v1/invoices` with an ERP's CII (`application/xml`) against the
same invoices as JSON, in one run.

    .venv/bin/python -m bench.xml_ingest                          # SQLite, 1 API process
    .venv/bin/python -m bench.xml_ingest --db postgresql --count 400 --connections 8

Serves the gateway on a fresh database, then from this process posts `--count` ten-line
invoices as JSON, then `--count` as CII D16B documents (the gateway's own writer made them
before the clock starts), over `--connections` concurrent connections, `--runs` times. The CII
goes through the conformance pass (XSD + EN 16931 schematron, in the API's process pool) then
the same rules as JSON. Prints accepted invoices/s and the API's CPU per accepted invoice (its
pool process included) for each kind, and the XML/JSON ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import uuid
from dataclasses import dataclass

import httpx

from bench.common import (
    BenchError,
    TimedLoad,
    background_busy,
    fmt,
    invoice_body_parts,
    log,
    machine_line,
    machine_summary,
    post_concurrently,
    print_table,
    ready_gateway,
    workdir,
)
from harness.processes import free_port
from harness.samples import SUPPLIER_VAT_NUMBER, ten_line_invoice


@dataclass
class Run(TimedLoad):
    """One timed load of one kind."""

    kind: str
    sent: int


def _cii_body(number: str, today: dt.date) -> bytes:
    """The benchmark's invoice as the CII an ERP would send (addresses and VAT id included)."""
    from app.formats.cii import write_cii
    from app.formats.from_canonical import to_en16931
    from app.formats.model import Address
    from app.invoices.parsing import parse_invoice, to_draft

    payload = ten_line_invoice(
        invoice_number=number,
        issue_date=today.isoformat(),
        due_date=(today + dt.timedelta(days=30)).isoformat(),
    )
    payload["supplier"]["vat_number"] = SUPPLIER_VAT_NUMBER
    parsed = parse_invoice(payload)
    if parsed.invoice is None:
        raise BenchError(f"the benchmark invoice does not parse: {parsed.violations}")
    document = to_en16931(
        to_draft(parsed.invoice),
        seller_address=Address("FR", "12 rue des Fournisseurs", None, "69002", "Lyon"),
        buyer_address=Address("FR", "139 rue de Bercy", None, "75012", "Paris"),
    )
    return write_cii(document)


def _post(client: httpx.Client, body: bytes, content_type: str) -> bool:
    response = client.post("/v1/invoices", content=body, headers={"Content-Type": content_type})
    if response.status_code not in (201, 409, 422):
        raise BenchError(f"POST answered {response.status_code}: {response.text[:300]}")
    if response.status_code == 422:
        log(f"refused: {response.text[:300]}")
    return response.status_code == 201


def _run(
    port: int, api_pid: int, key: str, kind: str, bodies: list[bytes], connections: int
) -> Run:
    content_type = "application/xml" if kind == "xml" else "application/json"
    accepted, seconds, cpu = post_concurrently(
        port,
        api_pid,
        bodies,
        lambda client, body: _post(client, body, content_type),
        headers={"Authorization": f"Bearer {key}"},
        connections=connections,
        timeout=120,
    )
    cpu_ms = 1000 * cpu / accepted if accepted else 0.0
    return Run(kind=kind, sent=len(bodies), accepted=accepted, seconds=seconds, api_cpu_ms=cpu_ms)


def _bodies(kind: str, count: int, today: dt.date) -> list[bytes]:
    tag = f"X{uuid.uuid4().hex[:6]}" if kind == "xml" else f"J{uuid.uuid4().hex[:6]}"
    numbers = [f"{tag}-{n}" for n in range(count)]
    if kind == "xml":
        return [_cii_body(number, today) for number in numbers]
    prefix, suffix = invoice_body_parts(today)
    return [f"{prefix}{number}{suffix}".encode() for number in numbers]


def main() -> None:
    """Parse arguments, run, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--count", type=int, default=200, help="invoices per kind and run")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    if not (1 <= args.count <= 5000 and 1 <= args.runs <= 10 and 1 <= args.connections <= 64):
        parser.error("--count 1..5000, --runs 1..10, --connections 1..64")
    machine = machine_summary()
    busy = background_busy()
    today = dt.datetime.now(dt.UTC).date()
    runs: list[Run] = []
    with workdir() as root, ready_gateway(args.db, root) as (gateway, key):
        port = free_port()
        with gateway.serving(port, 1) as api:
            log("warm-up (the pool compiles the XSDs and stylesheets)")
            for kind in ("json", "xml"):
                _run(port, api.pid, key, kind, _bodies(kind, 5, today), 1)
            for n in range(args.runs):
                for kind in ("json", "xml"):
                    log(f"run {n + 1}/{args.runs}: {args.count} {kind} invoices")
                    bodies = _bodies(kind, args.count, today)
                    runs.append(_run(port, api.pid, key, kind, bodies, args.connections))
    print(f"\n## POST /v1/invoices: CII (application/xml) vs JSON ({args.db}, 1 API process)\n")
    print(f"{machine_line(machine, busy)}; ten-line invoices, {args.connections} connections\n")
    rows = [
        [r.kind, r.sent, r.accepted, fmt(r.seconds, 2), fmt(r.rate), fmt(r.api_cpu_ms, 2)]
        for r in runs
    ]
    print_table(["kind", "sent", "accepted", "seconds", "invoices/s", "API CPU ms/invoice"], rows)
    medians = {
        kind: (
            statistics.median(r.rate for r in runs if r.kind == kind),
            statistics.median(r.api_cpu_ms for r in runs if r.kind == kind),
        )
        for kind in ("json", "xml")
    }
    (json_rate, json_cpu), (xml_rate, xml_cpu) = medians["json"], medians["xml"]
    print(
        f"\nmedian: JSON **{fmt(json_rate)} invoices/s**, {fmt(json_cpu, 2)} ms CPU each; "
        f"CII **{fmt(xml_rate)} invoices/s**, {fmt(xml_cpu, 2)} ms CPU each "
        f"(x{fmt(xml_cpu / json_cpu if json_cpu else 0, 1)} the CPU of JSON)"
    )
    print(
        json.dumps(
            {
                "json_invoices_per_second": round(json_rate, 1),
                "xml_invoices_per_second": round(xml_rate, 1),
                "json_cpu_ms": round(json_cpu, 2),
                "xml_cpu_ms": round(xml_cpu, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
