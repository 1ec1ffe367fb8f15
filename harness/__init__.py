"""The process harness: the gateway, the emulator, workers and databases as real processes.

A top-level package, not part of `bench/` or `tests/`, because three callers share it and none
owns the others: the benchmarks (`bench/`), the end-to-end tests (`tests/e2e/`) and the chaos
script (`scripts/chaos.py`). It is not shipped: the wheel packages `app*` only and the image
copies `app/`. `processes` starts and stops children, `databases` creates and drops them,
`cluster` composes emulator + API + workers, `chaos` is the scenario run over a cluster;
`samples` (valid invoices, a blank PDF) and `corpus` (the golden EN 16931 invoices) are what
they send. It depends on `app`, never on `tests` (the tests use it).
"""
