"""The order test processes take modules in (scripts/test: `-n N --dist loadscope`).

A module is one unit of work there, and a process takes the next unit when it is done with
one. xdist's own order (most tests first) started the modules with few but long tests (the
chaos runs, the fuzzing, the command line stories) last, so one process ran on for minutes
after the other had finished. Here the slowest modules go first, then the rest by number of
tests, as xdist would; scripts/test passes `--no-loadscope-reorder` so xdist keeps this order.
A module missing from the list only runs later; a name left after its module is gone is inert.
"""

from __future__ import annotations

import pytest

# The slowest modules, slowest first, as `--durations=0` measured them (whole module, both
# backends, setup included) on 2 cores, quiet and busy: 70-125 s for the chaos runs down to about
# 15 s. The browser tests were not measured (no chromium there) but serve a whole stack.
SLOWEST_MODULES = (
    "tests/e2e/test_chaos.py",
    "tests/invoices/forwarding/test_lifecycle.py",
    "tests/invoices/forwarding/test_delivery.py",
    "tests/invoices/test_document_submission.py",
    "tests/health/test_probe.py",
    "tests/invoices/forwarding/test_flux_delivery.py",
    "tests/console/test_browser.py",
    "tests/structures/test_structures.py",
    "tests/openapi/test_fuzz_invoices.py",
    "tests/invoices/forwarding/test_attachments_delivery.py",
    "tests/formats/test_native_corpus.py",
    "tests/invoices/test_hardening.py",
    "tests/test_run_command.py",
    "tests/openapi/test_fuzz_others.py",
    "tests/health/test_worker_health.py",
    "tests/console/test_access.py",
    "tests/structures/test_structure_addresses.py",
    "tests/openapi/test_fuzz_structures.py",
    "tests/invoices/forwarding/test_received_delivery.py",
    "tests/events/test_webhooks.py",
    "tests/qualify/test_scenario.py",
    "tests/invoices/forwarding/test_saisie_delivery.py",
    "tests/formats/test_pool.py",
    "tests/test_log_format.py",
    "tests/test_errors.py",
    "tests/invoices/forwarding/test_document_read_back.py",
    "tests/test_observability.py",
)


@pytest.hookimpl(trylast=True)  # after pytest's own reordering by fixture parameters
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a test process of a distributed run, put the slowest modules first."""
    # Alone (TEST_PROCESSES=0) the order by backend is better: it builds each database once.
    if not hasattr(config, "workerinput"):
        return
    counts: dict[str, int] = {}
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        counts[module] = counts.get(module, 0) + 1
    rank = {module: index for index, module in enumerate(SLOWEST_MODULES)}
    first_seen = {module: index for index, module in enumerate(counts)}

    def key(module: str) -> tuple[int, int, int]:
        return (rank.get(module, len(rank)), -counts[module], first_seen[module])

    # A stable sort on the module alone keeps each module's own order.
    items.sort(key=lambda item: key(item.nodeid.split("::", 1)[0]))
