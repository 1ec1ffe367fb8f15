"""The conformance process pool: compiled once ahead of use, ended with the process that uses it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from asgi_lifespan import LifespanManager

from app.formats import conformance
from app.formats.cii import write_cii
from app.formats.conformance import Syntax, check_async
from app.main import create_app
from app.settings import Settings
from tests.formats.corpus import scenario


@pytest.fixture(autouse=True)
def no_pool_left() -> Iterator[None]:
    yield
    conformance.shutdown()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that exited but was not reaped yet is a zombie: it no longer runs.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


def compiled_here() -> tuple[int, int, int]:
    """How many stylesheets and schemas this process compiled, and its pid (run in the pool)."""
    stylesheets = conformance._stylesheet.cache_info().currsize
    return stylesheets, conformance._schema.cache_info().currsize, os.getpid()


def test_warm_up_compiles_both_schematrons_and_the_xsds_in_the_pool_process() -> None:
    conformance.warm_up().result(timeout=120)

    pool = conformance._pool()
    stylesheets, schemas, pid = pool.submit(compiled_here).result(timeout=60)
    assert (stylesheets, schemas) == (2, 3)
    assert pid != os.getpid()


async def test_a_check_after_warm_up_uses_the_same_process() -> None:
    conformance.warm_up().result(timeout=120)
    [pid] = list(conformance._pool()._processes)

    report = await check_async(write_cii(scenario("single_rate").document()), Syntax.CII)

    assert report.ok
    assert list(conformance._pool()._processes) == [pid]


def test_shutdown_ends_the_pool_process_and_can_be_called_twice() -> None:
    conformance.warm_up().result(timeout=120)
    [pid] = list(conformance._pool()._processes)

    conformance.shutdown()
    conformance.shutdown()

    assert conformance._executor is None
    assert not _alive(pid)


async def test_the_api_lifespan_ends_the_pool(settings: Settings) -> None:
    async with LifespanManager(create_app(settings)):
        conformance.warm_up().result(timeout=120)
        [pid] = list(conformance._pool()._processes)

    assert conformance._executor is None
    assert not _alive(pid)
