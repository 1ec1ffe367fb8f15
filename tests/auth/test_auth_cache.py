"""The per-process memory of recognized API keys."""

from __future__ import annotations

from app.auth.cache import CallerCache
from app.auth.scopes import Scope
from app.auth.service import Caller

CALLER = Caller("cli_1", "erp", frozenset({Scope.INVOICES_READ}), frozenset())


def test_a_caller_is_remembered_until_the_ttl_passes() -> None:
    now = [100.0]
    cache = CallerCache(5, clock=lambda: now[0])
    cache.put("cpg_key", CALLER)
    assert cache.get("cpg_key") == CALLER
    assert cache.get("cpg_other") is None
    now[0] = 105.0
    assert cache.get("cpg_key") is None


def test_a_zero_ttl_remembers_nothing() -> None:
    cache = CallerCache(0)
    cache.put("cpg_key", CALLER)
    assert cache.get("cpg_key") is None


def test_the_cache_keeps_no_key_in_clear() -> None:
    cache = CallerCache(5)
    cache.put("cpg_secret_value", CALLER)
    assert "cpg_secret_value" not in repr(vars(cache))


def test_forgetting_a_client_drops_all_its_keys_and_only_its_keys() -> None:
    cache = CallerCache(5)
    other = Caller("cli_2", "crm", frozenset({Scope.INVOICES_READ}), frozenset())
    cache.put("cpg_old", CALLER)
    cache.put("cpg_new", CALLER)
    cache.put("cpg_crm", other)
    cache.forget("cli_1")
    assert cache.get("cpg_old") is None
    assert cache.get("cpg_new") is None
    assert cache.get("cpg_crm") == other
