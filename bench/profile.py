"""Reading a py-spy profile of the API (or a worker): where the CPU goes.

`py-spy record --format raw --full-filenames` writes collapsed stacks, one line per distinct
stack: `frame;frame;...;leaf COUNT`, root first, each frame `function (path:line)`. py-spy leaves
out idle samples; threads that py-spy still sees "running" while they wait on a condition (the
anyio thread pool) are left out here too, so the shares below are shares of the CPU the API
process used.

SQLAlchemy's asyncio layer runs the ORM's synchronous code in greenlets: py-spy shows those
stacks rooted at the Session method (`Session.flush`, `Session.execute`...), without the app
frames that awaited them. They are reported as their own stages ("SQLAlchemy, in greenlet").

Two views of the same samples:
- **stage**: the deepest frame of the request path the stack goes through (auth, JSON decoding,
  parsing, validation, idempotency, storing, the response...), so each sample counts once and
  the stages add up to 100 %;
- **layer**: the package of the leaf frame (SQLAlchemy, asyncpg, pydantic, the app's own code,
  uvicorn, the event loop...), i.e. whose code the CPU was in.

    python -m bench.profile profile.txt [...]   # prints both tables for saved raw profiles
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_PROCESS_LABELS = re.compile(r'process \d+:"[^"]*";')
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<path>[^()]*?)(?::(?P<line>\d+))?\)$")


@dataclass(frozen=True)
class Frame:
    """One frame of a sampled stack."""

    function: str
    path: str


Stack = list[Frame]

# (stage, path fragment, function names or None for any function in that file). The deepest
# frame matching one of the app's rules names the stage; without one, the deepest frame
# matching one of the others (framework, server, event loop).
STAGES: tuple[tuple[str, str, frozenset[str] | None], ...] = (
    ("idempotency (claim, complete, fingerprint)", "app/idempotency/", None),
    (
        "idempotency (claim, complete, fingerprint)",
        "app/invoices/service.py",
        frozenset({"submission_fingerprint"}),
    ),
    ("auth (key hash, cache, client lookup)", "app/auth/", None),
    ("JSON body: read + decode", "app/invoices/parsing.py", frozenset({"decode_json_body"})),
    ("JSON body: read + decode", "app/invoices/router.py", frozenset({"_read_submission"})),
    ("parse + normalize (InvoiceIn, pydantic)", "app/invoices/parsing.py", None),
    ("validation rules + totals (app/domain)", "app/domain/", None),
    ("event row (record_event)", "app/events/", None),
    ("outbox row (enqueue)", "app/outbox/service.py", None),
    # The worker's path (bench.drain --profile).
    ("worker: claim (outbox.claim)", "app/outbox/claim.py", None),
    ("worker: load invoice + structure", "app/invoices/forwarding.py", frozenset({"_load"})),
    ("worker: technical account (decrypt)", "app/structures/", None),
    ("worker: build the Chorus request", "app/invoices/chorus_mapping.py", None),
    ("worker: Chorus client (HTTP, token, throttle)", "app/chorus/", None),
    ("worker: deliver (other)", "app/invoices/forwarding.py", None),
    ("worker: status change (history, event, sync item)", "app/invoices/transitions.py", None),
    ("worker: loop, record outcome, leases, heartbeat", "app/outbox/", None),
    ("response body (invoice_out, model_dump)", "app/invoices/mapping.py", None),
    ("store: ORM objects, flush (awaiting)", "app/invoices/service.py", frozenset({"_store"})),
    ("check_invoice (other)", "app/invoices/service.py", frozenset({"check_invoice"})),
    ("service (other)", "app/invoices/service.py", None),
    ("commit / close (request unit of work)", "app/db/session.py", None),
    ("online validation lookup", "app/buyers/", None),
    ("route handler (other)", "app/invoices/router.py", None),
    ("app middleware (request id, access log, body limit)", "app/middleware.py", None),
    ("metrics (prometheus-client)", "prometheus_client/", None),
    ("logging (structlog, logging)", "structlog/", None),
    ("logging (structlog, logging)", "/logging/", None),
    ("JSONResponse render", "starlette/responses.py", None),
    ("FastAPI: dependencies, routing, validation", "fastapi/", None),
    ("Starlette: routing, middleware, threadpool", "starlette/", None),
    ("HTTP server (uvicorn, httptools)", "uvicorn/", None),
    ("event loop (asyncio, uvloop)", "asyncio/", None),
)

# Roots of greenlet stacks: SQLAlchemy's sync code run by its asyncio layer.
GREENLET_STAGES: dict[str, str] = {
    "Session.flush": "SQLAlchemy, in greenlet: flush (INSERT building + execution)",
    "Session.execute": "SQLAlchemy, in greenlet: statements (session.execute/scalar/get)",
    "Session.scalar": "SQLAlchemy, in greenlet: statements (session.execute/scalar/get)",
    "Session.scalars": "SQLAlchemy, in greenlet: statements (session.execute/scalar/get)",
    "Session.get": "SQLAlchemy, in greenlet: statements (session.execute/scalar/get)",
    "Session.commit": "SQLAlchemy, in greenlet: begin / commit / close",
    "Session.close": "SQLAlchemy, in greenlet: begin / commit / close",
    "Session.begin": "SQLAlchemy, in greenlet: begin / commit / close",
    "Session.rollback": "SQLAlchemy, in greenlet: begin / commit / close",
    "TransactionalContext.__exit__": "SQLAlchemy, in greenlet: begin / commit / close",
}

LAYERS: tuple[tuple[str, str], ...] = (
    ("SQLAlchemy (ORM, Core, compile)", "sqlalchemy/"),
    ("asyncpg (protocol, codecs)", "asyncpg/"),
    ("httpx / httpcore / h11 (HTTP client)", "httpx/"),
    ("httpx / httpcore / h11 (HTTP client)", "httpcore/"),
    ("httpx / httpcore / h11 (HTTP client)", "h11/"),
    ("cryptography (Fernet)", "cryptography/"),
    ("aiosqlite / sqlite3", "aiosqlite/"),
    ("aiosqlite / sqlite3", "sqlite3/"),
    ("greenlet", "greenlet/"),
    ("pydantic", "pydantic"),
    ("json (stdlib)", "/json/"),
    ("decimal / datetime / re (stdlib)", "/decimal.py"),
    ("decimal / datetime / re (stdlib)", "/_pydecimal.py"),
    ("decimal / datetime / re (stdlib)", "/datetime.py"),
    ("decimal / datetime / re (stdlib)", "/re/"),
    ("hashlib / uuid / secrets (stdlib)", "/hashlib.py"),
    ("hashlib / uuid / secrets (stdlib)", "/uuid.py"),
    ("python-stdnum (SIRET, VAT)", "stdnum/"),
    ("logging (structlog, logging)", "structlog/"),
    ("logging (structlog, logging)", "/logging/"),
    ("prometheus-client", "prometheus_client/"),
    ("the gateway's own code (app/)", "/app/"),
    ("FastAPI", "fastapi/"),
    ("Starlette", "starlette/"),
    ("anyio (threadpool)", "anyio/"),
    ("uvicorn / httptools", "uvicorn/"),
    ("uvicorn / httptools", "httptools/"),
    ("event loop (asyncio, uvloop)", "asyncio/"),
    ("event loop (asyncio, uvloop)", "uvloop/"),
    ("typing / enum / dataclasses / contextlib / copy (stdlib)", "/typing.py"),
    ("typing / enum / dataclasses / contextlib / copy (stdlib)", "/enum.py"),
    ("typing / enum / dataclasses / contextlib / copy (stdlib)", "/dataclasses.py"),
    ("typing / enum / dataclasses / contextlib / copy (stdlib)", "/contextlib.py"),
    ("typing / enum / dataclasses / contextlib / copy (stdlib)", "/copy.py"),
)

# Leaf functions of a thread that waits (py-spy may still count them as active).
_WAITING = frozenset({"Condition.wait", "Event.wait", "Queue.get", "_wait_for_tstate_lock"})

# Functions whose inclusive share is worth showing (they overlap).
INCLUSIVE: tuple[tuple[str, str, str], ...] = (
    ("create_invoice (the route, awaiting frames only)", "create_invoice", "app/invoices/router"),
    ("get_caller (auth dependency)", "get_caller", "app/auth/"),
    ("check_invoice (parse + validate)", "check_invoice", "app/invoices/service.py"),
    ("parse_invoice", "parse_invoice", "app/invoices/parsing.py"),
    ("validate_invoice (rules)", "validate_invoice", "app/domain/rules.py"),
    ("idempotency claim", "claim", "app/idempotency/"),
    ("idempotency complete", "complete", "app/idempotency/"),
    ("_store (awaiting frames only)", "_store", "app/invoices/service.py"),
    ("invoice_out (response model)", "invoice_out", "app/invoices/mapping.py"),
    ("pydantic model_dump (any)", "model_dump", "pydantic/main.py"),
    ("pydantic model_validate (any)", "model_validate", "pydantic/main.py"),
    ("SQL compile (any)", "process", "sqlalchemy/sql/compiler.py"),
    ("SQLAlchemy cache key (any)", "_generate_cache_key", "sqlalchemy/sql/cache_key.py"),
    ("ORM flush (any)", "flush", "sqlalchemy/orm/session.py"),
    ("asyncpg prepare/execute (any)", "_do_execute", "asyncpg/connection.py"),
    ("pool pre-ping: BEGIN; SELECT; ROLLBACK (any)", "_async_ping", "sqlalchemy/dialects/"),
    ("pool checkout (any)", "_checkout", "sqlalchemy/pool/"),
    ("access log line (any)", "info", "structlog/"),
)


def _waiting(leaf: Frame) -> bool:
    """A thread blocked in a wait that py-spy still reports as running."""
    if leaf.function in _WAITING:
        return True
    # uvicorn --workers N: the supervisor's health-check threads wait on their pipes.
    return "multiprocessing/connection.py" in leaf.path and leaf.function.endswith("_recv")


def parse_frame(text: str) -> Frame:
    """`function (path:line)` as py-spy writes it."""
    match = _FRAME.match(text.strip())
    if match is None:
        return Frame(text.strip(), "")
    return Frame(match["function"], match["path"])


def read_raw(path: Path) -> list[tuple[Stack, int]]:
    """The stacks (root first) and their sample counts, waiting threads left out."""
    stacks: list[tuple[Stack, int]] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        text, _, count = line.rpartition(" ")
        if not text or not count.isdigit():
            continue
        text = _PROCESS_LABELS.sub("", text)  # --subprocesses: `process PID:"cmdline";` roots
        frames = [frame for frame in text.split(";") if frame.strip()]
        stack = [parse_frame(frame) for frame in frames]
        if not stack or _waiting(stack[-1]):
            continue
        stacks.append((stack, int(count)))
    return stacks


def _in_greenlet(stack: Stack) -> bool:
    return bool(stack) and "sqlalchemy/" in stack[0].path


def _deepest(stack: Stack, rules: tuple[tuple[str, str, frozenset[str] | None], ...]) -> str:
    for frame in reversed(stack):
        for stage, fragment, functions in rules:
            if fragment in frame.path and (functions is None or frame.function in functions):
                return stage
    return ""


def stage_of(stack: Stack) -> str:
    """The stage a sample belongs to: its deepest app frame, else its deepest framework frame."""
    if _in_greenlet(stack):
        return GREENLET_STAGES.get(stack[0].function, "SQLAlchemy, in greenlet: other")
    # The app's middleware wraps everything: a sample under it but in no other app frame is
    # the framework's (routing, dependencies), so the middleware ranks with the framework.
    app_rules = tuple(r for r in STAGES if r[1].startswith("app/") and "middleware" not in r[1])
    other_rules = tuple(r for r in STAGES if r not in app_rules)
    stage = _deepest(stack, app_rules) or _deepest(stack, other_rules)
    if stage:
        return stage
    if stack and stack[-1].function == "Runner.run":
        return "event loop (asyncio, uvloop)"  # uvloop's own C code under run_forever
    return "other"


def layer_of(stack: Stack) -> str:
    """The package of the leaf frame (see LAYERS)."""
    for frame in reversed(stack):
        if not frame.path:
            continue  # a native frame without a file
        if frame.function == "Runner.run":
            return "event loop (asyncio, uvloop)"
        for layer, fragment in LAYERS:
            if fragment in frame.path:
                return layer
        return "other (stdlib, other packages)"
    return "other (stdlib, other packages)"


def inclusive(stacks: list[tuple[Stack, int]], function: str, fragment: str) -> int:
    """Samples whose stack passes through `function` in a file matching `fragment`."""
    return sum(
        count
        for stack, count in stacks
        if any(
            (f.function == function or f.function.endswith("." + function)) and fragment in f.path
            for f in stack
        )
    )


@dataclass(frozen=True)
class ProfileSummary:
    """Shares of the API's CPU samples, in %."""

    samples: int
    stages: list[tuple[str, float]]
    layers: list[tuple[str, float]]
    functions: list[tuple[str, float]]
    sqlite_thread_samples: int = 0


def _is_sqlite_thread(stack: Stack) -> bool:
    """An aiosqlite connection thread: SQLite calls, and waits for the write lock."""
    return any(frame.function == "_connection_worker_thread" for frame in stack)


def summarize(path: Path) -> ProfileSummary:
    """Both views and the inclusive shares, biggest first."""
    stacks = read_raw(path)
    sqlite_samples = sum(count for stack, count in stacks if _is_sqlite_thread(stack))
    stacks = [(stack, count) for stack, count in stacks if not _is_sqlite_thread(stack)]
    total = sum(count for _, count in stacks) or 1
    stages: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    for stack, count in stacks:
        stages[stage_of(stack)] += count
        layers[layer_of(stack)] += count

    def shares(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, 100.0 * n / total) for name, n in counter.most_common()]

    functions = [
        (label, 100.0 * inclusive(stacks, function, fragment) / total)
        for label, function, fragment in INCLUSIVE
    ]
    return ProfileSummary(total, shares(stages), shares(layers), functions, sqlite_samples)


def print_summary(summary: ProfileSummary, title: str) -> None:
    """The three tables, as Markdown."""
    from bench.common import print_table

    print(f"\n### Profile: {title} ({summary.samples} CPU samples)\n")
    if summary.sqlite_thread_samples:
        print(
            f"Left out: {summary.sqlite_thread_samples} samples of aiosqlite's connection "
            "threads (SQLite's own work and its waits for the write lock, which py-spy cannot "
            "tell apart); the shares below are of the event loop thread.\n"
        )
    print("Stage of the request (exclusive, adds up to 100 %):\n")
    print_table(["stage", "% of API CPU"], [(s, f"{p:.1f}") for s, p in summary.stages])
    print("\nLayer (package of the leaf frame):\n")
    print_table(["layer", "% of API CPU"], [(s, f"{p:.1f}") for s, p in summary.layers])
    print("\nInclusive share of some functions (overlapping; greenlet work not included):\n")
    rows = [(s, f"{p:.1f}") for s, p in summary.functions if p > 0]
    print_table(["function", "% of API CPU"], rows)


def main() -> None:
    """Summarize the raw profiles given on the command line."""
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m bench.profile PROFILE.txt [...]")
    for name in sys.argv[1:]:
        print_summary(summarize(Path(name)), name)


if __name__ == "__main__":
    main()
