"""GET /v1/invoices/{id} and the cursor-paginated list."""

from __future__ import annotations

import httpx
import pytest

from tests.builders import invoice_payload

pytestmark = pytest.mark.usefixtures("registered_suppliers")


async def create(http: httpx.AsyncClient, auth: dict[str, str], **overrides: object) -> dict:  # type: ignore[type-arg]
    response = await http.post("/v1/invoices", json=invoice_payload(**overrides), headers=auth)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_get_returns_what_post_returned(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    created = await create(http, auth)
    fetched = await http.get(f"/v1/invoices/{created['id']}", headers=auth)
    assert fetched.status_code == 200
    assert fetched.json() == created


async def test_an_unknown_id_is_404(http: httpx.AsyncClient, auth: dict[str, str]) -> None:
    response = await http.get("/v1/invoices/inv_unknown", headers=auth)
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


async def test_the_list_is_newest_first_and_pages_with_a_cursor(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    created = [(await create(http, auth))["id"] for _ in range(5)]
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await http.get(f"/v1/invoices?{query}", headers=auth)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(created))


async def test_pages_stay_stable_when_invoices_arrive_in_between(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    older = [(await create(http, auth))["id"] for _ in range(4)]
    first = (await http.get("/v1/invoices?limit=2", headers=auth)).json()
    newer = (await create(http, auth))["id"]
    second = (
        await http.get(f"/v1/invoices?limit=2&cursor={first['next_cursor']}", headers=auth)
    ).json()
    listed = [i["id"] for i in first["items"] + second["items"]]
    assert listed == list(reversed(older))
    assert newer not in listed


async def test_the_list_filters_by_status_number_and_supplier(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    target = await create(http, auth)
    await create(http, auth)
    by_number = await http.get(
        f"/v1/invoices?invoice_number={target['invoice_number']}", headers=auth
    )
    assert [i["id"] for i in by_number.json()["items"]] == [target["id"]]
    by_status = await http.get("/v1/invoices?status=failed", headers=auth)
    assert by_status.json()["items"] == []
    by_supplier = await http.get(
        "/v1/invoices?supplier_siret=412%20345%20670%2010000", headers=auth
    )
    assert len(by_supplier.json()["items"]) == 2
