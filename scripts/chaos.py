"""Chaos run: real processes, real HTTP, faults and SIGKILLs; every invoice in Chorus exactly once.

    .venv/bin/python scripts/chaos.py --invoices 2000 --workers 2 --kills 2 --database postgresql
    .venv/bin/python scripts/chaos.py --invoices 300 --database sqlite --channel facturx
    .venv/bin/python scripts/chaos.py --invoices 300 --channel saisie

Starts the Chorus Pro emulator (manual lifecycle), the API and the workers as `python -m app`
subprocesses over a fresh database (PostgreSQL: `chaos_<random>` on TEST_POSTGRES_URL's server,
dropped at the end; SQLite: a file in the work directory), the gateway delivering through
`--channel` (CHORUS_DELIVERY_FORMAT; facturx and pdf post each invoice with a PDF), injects
faults, posts the invoices, SIGKILLs workers mid-flight while the backlog drains, and compares
the gateway with the emulator's ground truth. Exit status 0 when nothing is duplicated, lost or
failed (on saisie, failed AMBIGUOUS_DELIVERY is counted, not a failure) and the backlog drained
in time; 1 otherwise; 2 when the cluster could not run. See harness/chaos.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import sys
import tempfile
import traceback
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

REPO_ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--invoices", type=int, default=2000, help="invoices to post")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--kills", type=int, default=2, help="workers to SIGKILL mid-flight")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument(
        "--channel",
        choices=("cii", "ubl", "facturx", "pdf", "saisie"),
        default="cii",
        help="how the gateway delivers (CHORUS_DELIVERY_FORMAT)",
    )
    parser.add_argument(
        "--saisie-numbering",
        choices=("chorus", "sender"),
        default="chorus",
        help="who numbers a SAISIE_API invoice in the emulator (EMULATOR_SAISIE_NUMBERING)",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="posts in flight")
    parser.add_argument("--seed", type=int, default=20261126, help="seed of the fault draws")
    parser.add_argument(
        "--fault-scale", type=float, default=1.0, help="multiplies every fault probability"
    )
    parser.add_argument(
        "--faults",
        type=Path,
        metavar="FILE",
        help="a JSON list of emulator fault rules replacing the default ones",
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds from the first post to drained"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a worker setting, e.g. OUTBOX_BATCH_SIZE=32 (repeatable)",
    )
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the work directory even on success"
    )
    args = parser.parse_args(argv)
    if args.invoices < 1 or args.workers < 1 or args.kills < 0 or args.concurrency < 1:
        parser.error("--invoices, --workers and --concurrency must be >= 1, --kills >= 0")
    if any("=" not in item for item in args.set):
        parser.error("--set takes NAME=VALUE")
    return args


async def _until_interrupted(run: Coroutine[Any, Any, T]) -> T | None:
    """Await `run`; SIGINT (Ctrl-C) or SIGTERM cancels it, so its clean-up runs: None then."""
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await run
    except asyncio.CancelledError:
        return None


def main(argv: list[str] | None = None) -> int:
    """Run once; print the figures; the exit status says whether it held."""
    args = parse_args(argv)
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from harness.chaos import ChaosOptions, run_chaos
    from harness.processes import HarnessError

    workdir = Path(tempfile.mkdtemp(prefix="chaos-"))
    options = ChaosOptions(
        invoices=args.invoices,
        workers=args.workers,
        kills=args.kills,
        database=args.database,
        workdir=workdir,
        channel=args.channel,
        saisie_numbering=args.saisie_numbering,
        concurrency=args.concurrency,
        seed=args.seed,
        fault_scale=args.fault_scale,
        faults=json.loads(args.faults.read_text(encoding="utf-8")) if args.faults else None,
        timeout_seconds=args.timeout,
        worker_env=dict(item.split("=", 1) for item in args.set),
    )
    print(
        f"chaos: {args.invoices} invoices, {args.workers} workers, {args.kills} kills, "
        f"{args.database}, channel {args.channel}; logs in {workdir}",
        flush=True,
    )
    try:
        report = asyncio.run(_until_interrupted(run_chaos(options)))
    except KeyboardInterrupt:
        report = None
    except (HarnessError, OSError) as exc:
        traceback.print_exception(exc)
        print(f"the cluster could not run; logs in {workdir}")
        return 2
    if report is None:
        print(f"interrupted; processes stopped, database dropped; logs in {workdir}")
        return 130
    print(report.render(), flush=True)
    if report.ok and not args.keep_logs:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
