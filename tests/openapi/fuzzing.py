"""Fuzzing the committed spec against the app on a real database: the machinery and the groups.

Schemathesis generates requests from `openapi/openapi.json` for every operation, valid ones and
invalid ones, sent in-process (ASGI) with an operator key and with an ERP client's key, under a
fixed seed and a bounded number of examples, so a run is reproducible.

The operations are fuzzed in groups, one test module per group (`test_fuzz_*.py`): the suite
hands out whole modules to its processes, so one module of every operation ran on one process
for minutes (90 to 165 s) while the others sat idle. Every group starts from an empty database
with the same demo structure and keys; the seed is per operation, so the cases sent are the
same whatever the grouping. Every operation is in a group (`others` takes what no other does);
`test_fuzz_others.py` checks that every group has its module.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.auth.scopes import Scope
from app.auth.service import create_client
from app.crypto import PasswordBox
from app.db.engine import create_engine, create_sessionmaker
from app.main import create_app
from app.settings import Settings
from app.structures.service import add_structure
from tests.builders import SUPPLIER_SIRET
from tests.conftest import TEST_SECRETS_KEY, emulator_chorus_settings
from tests.openapi.test_spec import SPEC_FILE

SEED = 20261128
# Per operation, mode (valid, invalid) and key: about 2,300 requests in all, per backend.
EXAMPLES = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# The groups, by the resource an operation's path is under: invoices take the longest (their
# bodies are the largest), the three take 15 to 45 s each, both backends, on 2 busy cores.
GROUPS = ("invoices", "structures", "others")


def group_of(label: str) -> str:
    """The group that fuzzes the operation labelled `label` ("POST /v1/invoices/batch")."""
    path = label.split(" ", 1)[1]
    for group in ("invoices", "structures"):
        if path == f"/v1/{group}" or path.startswith(f"/v1/{group}/"):
            return group
    return "others"


@dataclass(frozen=True)
class Finding:
    """One request the app answered wrongly, as the report shows it."""

    operation: str
    request: str
    status: int
    problem: str

    def __str__(self) -> str:
        return f"{self.operation}: {self.request}\n  -> {self.status}: {self.problem}"


def spec() -> Any:
    """The committed spec, loaded by schemathesis."""
    return schemathesis.openapi.from_path(SPEC_FILE)


def operation_labels() -> list[str]:
    """Every operation of the committed spec, as "METHOD /path", in spec order."""
    return [result.ok().label for result in spec().get_all_operations()]


def fuzz_group(group: str, settings: Settings, served_emulator: str) -> None:
    """Fuzz the group's operations; fail with every finding at once."""
    sent: list[int] = []
    # Chorus is the emulator, so lookups get real answers rather than "unavailable".
    chorus = emulator_chorus_settings(served_emulator)
    findings = _fuzz(group, settings.model_copy(update={"chorus": chorus}), sent)
    assert not findings, f"{len(findings)} findings:\n" + "\n".join(map(str, findings))
    # Up to 4 * EXAMPLES requests an operation (2 modes, 2 keys) and about 55 sent on average,
    # fewer when its inputs are few: far fewer means cases are no longer generated.
    operations = sum(group_of(label) == group for label in operation_labels())
    assert len(sent) > 20 * operations
    assert any(200 <= status < 300 for status in sent)


def _run_in_own_loop(coroutine: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run `coroutine` on a loop of its own (the test's thread must not start one)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine()).result()


def _prepare(settings: Settings) -> dict[str, str]:
    """The demo supplier's technical account, and the keys to call with."""

    async def make() -> dict[str, str]:
        engine = create_engine(settings.database)
        try:
            keys = {}
            async with create_sessionmaker(engine)() as session, session.begin():
                await add_structure(
                    session,
                    PasswordBox([TEST_SECRETS_KEY.get_secret_value()]),
                    siret=SUPPLIER_SIRET,
                    login="TECH_1_41234567010000@cpro.fr",
                    password=SecretStr("emulator-demo-1"),
                )
                for name, scopes in (
                    ("operator", (Scope.OPERATOR,)),
                    ("erp", (Scope.INVOICES_WRITE, Scope.INVOICES_READ)),
                ):
                    _, key = await create_client(
                        session,
                        name=f"fuzz-{name}",
                        scopes=scopes,
                        supplier_sirets=(SUPPLIER_SIRET,),
                    )
                    keys[name] = key
            return keys
        finally:
            await engine.dispose()

    result: dict[str, str] = _run_in_own_loop(make)
    return result


def _describe(case: schemathesis.Case, key_name: str) -> str:
    query = f"?{case.query}" if case.query else ""
    body = "" if isinstance(case.body, NotSet) else f" body={case.body!r}"
    return f"[{key_name}] {case.method.upper()} {case.formatted_path}{query}{body}"[:600]


settings_for_run = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _exercise(
    operation: schemathesis.APIOperation,
    mode: schemathesis.GenerationMode,
    key_name: str,
    key: str,
    findings: list[Finding],
    sent: list[int],
) -> None:
    @seed(SEED)
    @settings_for_run
    @given(case=operation.as_strategy(generation_mode=mode))
    def exercise(case: schemathesis.Case) -> None:
        response = case.call(headers={"Authorization": f"Bearer {key}"})
        sent.append(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, FailureGroup) as failure:
            findings.append(
                Finding(
                    operation.label,
                    _describe(case, key_name),
                    response.status_code,
                    f"{type(failure).__name__}: {failure}"[:600]
                    + f" | body: {response.text[:300]}",
                )
            )

    try:
        exercise()
    except Unsatisfiable:
        # An operation with nothing to get wrong (no parameters, no body) has no negative case.
        if mode is not schemathesis.GenerationMode.NEGATIVE:
            raise


def _fuzz(group: str, settings: Settings, sent: list[int]) -> list[Finding]:
    keys = _prepare(settings)
    schema = spec()
    # In-process, like `schemathesis.openapi.from_asgi`, but fuzzing the committed file.
    schema.app = create_app(settings)
    findings: list[Finding] = []
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            if group_of(operation.label) != group:
                continue
            for mode in (
                schemathesis.GenerationMode.POSITIVE,
                schemathesis.GenerationMode.NEGATIVE,
            ):
                for key_name, key in keys.items():
                    _exercise(operation, mode, key_name, key, findings, sent)
    finally:
        asgi.shutdown_lifespans()
    return findings
