"""Cost per invoice of the structured formats: generation and the full EN 16931 check.

    .venv/bin/python -m bench.formats [--runs 20] [--syntax cii|ubl|facturx|both|all] [--no-corpus]

In this process: first the one-off compile costs (XSD and XSLT, once per process); then, per
syntax (CII, UBL, Factur-X), the median and p90 wall milliseconds per invoice of generation
(`to_en16931` + the writer, + embedding into a one-page PDF for Factur-X) and of the full check
(`conformance.check`: XSD + schematron, + reading the PDF for Factur-X), for a 1-line and a
50-line invoice; then the same split (generate, XSD, schematron) per golden-corpus scenario.
Single-threaded, so each figure is one core's cost; the pool in `conformance.check_async` runs
the same code. The PDF is a blank pypdf page: an ERP's PDF with fonts and images costs more to
embed into, roughly in proportion to its size (pypdf copies every object).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import replace

from app.domain.invoice import compute_totals
from app.formats.cii import write_cii
from app.formats.conformance import Syntax, check, check_schematron, check_xsd
from app.formats.facturx import write_facturx
from app.formats.ubl import write_ubl
from bench.common import background_busy, fmt, log, machine_summary, percentile, print_table
from harness.corpus import SCENARIOS, Scenario, scenario
from harness.samples import blank_pdf

Generate = Callable[[Scenario], bytes]


PDF = blank_pdf()

GENERATORS: dict[Syntax, Generate] = {
    Syntax.CII: lambda case: write_cii(case.document()),
    Syntax.UBL: lambda case: write_ubl(case.document()),
    Syntax.FACTURX: lambda case: write_facturx(PDF, write_cii(case.document())),
}
CHOICES = {
    "cii": (Syntax.CII,),
    "ubl": (Syntax.UBL,),
    "facturx": (Syntax.FACTURX,),
    "both": (Syntax.CII, Syntax.UBL),
    "all": (Syntax.CII, Syntax.UBL, Syntax.FACTURX),
}


def _with_lines(case: Scenario, count: int) -> Scenario:
    lines = case.draft.lines[:count]
    draft = replace(case.draft, lines=lines, totals=compute_totals(lines))
    return replace(case, name=f"{case.name}[:{count}]", draft=draft)


def _sizes() -> dict[str, Scenario]:
    return {"1 line": scenario("single_rate"), "50 lines": _with_lines(scenario("many_lines"), 50)}


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def _median_p90(values: list[float]) -> str:
    return f"{fmt(statistics.median(values), 2)} / {fmt(percentile(sorted(values), 0.9), 2)}"


def _compile_costs(syntaxes: tuple[Syntax, ...]) -> None:
    # A Factur-X's XML is a CII: it has no artefact of its own to compile.
    wanted = {Syntax.CII if s is Syntax.FACTURX else s for s in syntaxes}
    first = scenario("single_rate")
    rows = []
    for syntax in (s for s in (Syntax.CII, Syntax.UBL) if s in wanted):
        document = GENERATORS[syntax](first)
        rows.append(
            (
                syntax.value,
                fmt(_timed(lambda: check_xsd(document, syntax))),  # noqa: B023
                fmt(_timed(lambda: check_schematron(document, syntax))),  # noqa: B023
            )
        )
    print("First document of the process (compile + check), ms:\n")
    print_table(("syntax", "XSD", "schematron"), rows)


def _per_invoice(syntaxes: tuple[Syntax, ...], runs: int) -> None:
    rows = []
    for syntax in syntaxes:
        generate = GENERATORS[syntax]
        for label, case in _sizes().items():
            log(f"{syntax.value} {label}")
            generation, checks = [], []
            for _ in range(runs):
                start = time.perf_counter()
                document = generate(case)
                generation.append((time.perf_counter() - start) * 1000)
                start = time.perf_counter()
                report = check(document, syntax)
                checks.append((time.perf_counter() - start) * 1000)
                if not report.ok:
                    raise SystemExit(f"{syntax} {label}: {report.fatal_rule_ids}")
            rows.append(
                (
                    syntax.value,
                    label,
                    f"{len(document) / 1024:.1f}",
                    _median_p90(generation),
                    _median_p90(checks),
                    fmt(statistics.median(generation) + statistics.median(checks), 2),
                )
            )
    print(f"\nPer invoice, median / p90 ms over {runs} runs (check = XSD + schematron):\n")
    print_table(("syntax", "invoice", "KiB", "generate", "full check", "sum of medians"), rows)


def _per_scenario(syntaxes: tuple[Syntax, ...], runs: int) -> None:
    rows = []
    for syntax in syntaxes:
        generate = GENERATORS[syntax]
        for case in SCENARIOS:
            log(f"{syntax.value} {case.name}")
            count = max(3, runs // 10) if len(case.draft.lines) > 50 else runs
            generation, xsd, schematron = [], [], []
            for _ in range(count):
                start = time.perf_counter()
                document = generate(case)
                generation.append((time.perf_counter() - start) * 1000)
                xsd.append(_timed(lambda: check_xsd(document, syntax)))  # noqa: B023
                schematron.append(_timed(lambda: check_schematron(document, syntax)))  # noqa: B023
            rows.append(
                (
                    syntax.value,
                    case.name,
                    len(case.draft.lines),
                    f"{len(document) / 1024:.1f}",
                    *(_median_p90(values) for values in (generation, xsd, schematron)),
                )
            )
    print("\nPer corpus document, median / p90 ms:\n")
    print_table(("syntax", "scenario", "lines", "KiB", "generate", "XSD", "schematron"), rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="invoices timed per case")
    parser.add_argument("--syntax", choices=tuple(CHOICES), default="all")
    parser.add_argument("--no-corpus", action="store_true", help="skip the per-scenario table")
    args = parser.parse_args()
    busy = background_busy()
    syntaxes = CHOICES[args.syntax]
    print("## Structured formats: cost per invoice\n")
    print(f"machine: {machine_summary()}; busy before start: {busy:.0f} % of all cores\n")
    _compile_costs(syntaxes)
    _per_invoice(syntaxes, args.runs)
    if not args.no_corpus:
        _per_scenario(syntaxes, args.runs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
