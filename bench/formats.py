"""Cost per document of the structured formats: generation, XSD and EN 16931 schematron.

    .venv/bin/python -m bench.formats [--runs 20] [--syntax cii|ubl|both]

In this process, on the golden corpus (`tests/formats/corpus.py`): first the one-off compile
costs (XSD and XSLT, once per process), then the median and p90 wall milliseconds per document
of `to_en16931` + the writer, `check_xsd` and `check_schematron`, per scenario. Single-threaded,
so each figure is one core's cost; the pool in `conformance.check_async` runs the same code.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from collections.abc import Callable

from app.formats.cii import write_cii
from app.formats.conformance import Syntax, check_schematron, check_xsd
from app.formats.model import EN16931Invoice
from bench.common import background_busy, fmt, log, machine_summary, percentile, print_table
from tests.formats.corpus import SCENARIOS

Writer = Callable[[EN16931Invoice], bytes]


def _writers(choice: str) -> dict[Syntax, Writer]:
    writers: dict[Syntax, Writer] = {}
    if choice in ("cii", "both"):
        writers[Syntax.CII] = write_cii
    if choice in ("ubl", "both"):
        from app.formats.ubl import write_ubl

        writers[Syntax.UBL] = write_ubl
    return writers


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def _median_p90(values: list[float]) -> str:
    return f"{fmt(statistics.median(values), 2)} / {fmt(percentile(sorted(values), 0.9), 2)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="documents timed per scenario")
    parser.add_argument("--syntax", choices=("cii", "ubl", "both"), default="both")
    args = parser.parse_args()
    busy = background_busy()
    writers = _writers(args.syntax)
    print("## Structured formats: cost per document\n")
    print(f"machine: {machine_summary()}; busy before start: {busy:.0f} % of all cores\n")

    first = SCENARIOS[0].document()
    compile_rows = []
    for syntax, write in writers.items():
        document = write(first)
        compile_rows.append(
            (
                syntax.value,
                fmt(_timed(lambda: check_xsd(document, syntax))),  # noqa: B023
                fmt(_timed(lambda: check_schematron(document, syntax))),  # noqa: B023
            )
        )
    print("First document of the process (compile + check), ms:\n")
    print_table(("syntax", "XSD", "schematron"), compile_rows)

    rows = []
    for syntax, write in writers.items():
        for case in SCENARIOS:
            log(f"{syntax.value} {case.name}")
            runs = max(3, args.runs // 10) if len(case.draft.lines) > 50 else args.runs
            generate, xsd, schematron = [], [], []
            for _ in range(runs):
                start = time.perf_counter()
                document = write(case.document())
                generate.append((time.perf_counter() - start) * 1000)
                xsd.append(_timed(lambda: check_xsd(document, syntax)))  # noqa: B023
                schematron.append(_timed(lambda: check_schematron(document, syntax)))  # noqa: B023
            rows.append(
                (
                    syntax.value,
                    case.name,
                    len(case.draft.lines),
                    f"{len(document) / 1024:.1f}",
                    *(_median_p90(values) for values in (generate, xsd, schematron)),
                )
            )
    print("\nPer document, median / p90 ms:\n")
    print_table(("syntax", "scenario", "lines", "KiB", "generate", "XSD", "schematron"), rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
