"""The guards every request passes before any route: NUL characters, metrics labels."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import REGISTRY


@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        ("GET", "/v1/invoices?invoice_number=F1%00", "invoice_number"),
        ("GET", "/v1/invoices?supplier_siret=%0041234567010000", "supplier_siret"),
        ("GET", "/v1/invoices?cursor=abc%00", "cursor"),
        ("GET", "/v1/invoices?status=queued%00", "status"),
        ("GET", "/v1/invoices?x%00=1", "query"),
        ("GET", "/v1/events?type=invoice.paid%00", "type"),
        ("GET", "/v1/invoices/inv_%00abc", "path"),
        ("GET", "/v1/invoices/inv_%00abc/pdf", "path"),
        ("POST", "/v1/invoices/inv_%00abc/retry", "path"),
        ("DELETE", "/v1/webhooks/wh_%00", "path"),
        ("PUT", "/v1/structures/4123456701%000/password", "path"),
        ("GET", "/v1/buyers/110002011%0000044/services", "path"),
    ],
)
async def test_a_nul_character_in_the_path_or_query_is_a_422(
    http: httpx.AsyncClient, operator: dict[str, str], method: str, url: str, field: str
) -> None:
    response = await http.request(method, url, headers=operator, json={"password": "x"})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "REQUEST_INVALID"
    assert [error["field"] for error in problem["errors"]] == [field]
    assert "\x00" not in response.text


async def test_an_escaped_percent_is_not_a_nul(
    http: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    response = await http.get("/v1/invoices?invoice_number=F1%2500", headers=operator)
    assert response.status_code == 200, response.text


def _requests_counted(route: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "gateway_http_requests_total", {"method": "GET", "route": route, "status": "200"}
        )
        or 0.0
    )


@pytest.mark.parametrize("path", ["/docs", "/openapi.json", "/redoc"])
async def test_the_documentation_routes_are_counted_under_their_own_path(
    http: httpx.AsyncClient, path: str
) -> None:
    before, unmatched_before = _requests_counted(path), _requests_counted("unmatched")
    assert (await http.get(path)).status_code == 200
    assert _requests_counted(path) == before + 1
    assert _requests_counted("unmatched") == unmatched_before
