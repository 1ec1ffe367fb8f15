"""Inputs a fuzzer or a newcomer sends: each gets a precise 4xx problem, never a 500."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.scopes import Scope
from app.idempotency.models import IdempotencyRecord
from app.invoices.models import Invoice
from app.outbox.models import OutboxItem
from tests.builders import OTHER_SUPPLIER_SIRET, invoice_payload
from tests.conftest import KeyFactory
from tests.invoices.conftest import Refused
from tests.invoices.uploads import post_with_pdf

pytestmark = pytest.mark.usefixtures("registered_suppliers")

ENDPOINTS = ("/v1/invoices", "/v1/invoices/validate")


async def stored(sessionmaker: async_sessionmaker[AsyncSession], model: Any = Invoice) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def with_line(**changes: Any) -> dict[str, Any]:
    line = {"description": "Papier", "quantity": "2", "unit_price": "100.00", "vat_rate": "20"}
    return invoice_payload(lines=[{**line, **changes}])


def without_totals(payload: dict[str, Any]) -> dict[str, Any]:
    payload.pop("totals")
    return payload


def errors_of(response: httpx.Response) -> dict[str, tuple[str, str]]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return {e["field"]: (e["code"], e["message"]) for e in response.json()["errors"]}


FieldProblem = Callable[[str, dict[str, Any], str], Awaitable[tuple[str, str]]]


@pytest.fixture
def field_problem(refused: Refused, sessionmaker: async_sessionmaker[AsyncSession]) -> FieldProblem:
    """Post `payload` to `endpoint`: refused, nothing stored; the (code, message) of `field`."""

    async def problem(endpoint: str, payload: dict[str, Any], field: str) -> tuple[str, str]:
        response = await refused(endpoint, payload)
        assert await stored(sessionmaker) == 0
        return errors_of(response)[field]

    return problem


AMOUNT_CASES = [
    *[
        (without_totals(with_line(**{name: blank})), f"lines.0.{name}")
        for name in ("quantity", "unit_price", "vat_rate")
        for blank in (None, "")
    ],
    *[
        (with_line(**{name: blank}), f"lines.0.{name}")
        for name in ("quantity", "unit_price", "vat_rate")
        for blank in (None, "", "   ")
    ],
    *[
        (
            invoice_payload(
                totals={"net": "200.00", "vat": "40.00", "gross": "240.00", name: blank}
            ),
            f"totals.{name}",
        )
        for name in ("net", "vat", "gross")
        for blank in (None, "")
    ],
]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(("payload", "field"), AMOUNT_CASES)
async def test_an_absent_amount_is_a_field_problem_not_a_500(
    field_problem: FieldProblem, endpoint: str, payload: dict[str, Any], field: str
) -> None:
    code, _ = await field_problem(endpoint, payload, field)
    assert code == "FIELD_REQUIRED"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_an_absent_amount_in_the_multipart_invoice_part_is_a_field_problem(
    http: httpx.AsyncClient, auth: dict[str, str], endpoint: str
) -> None:
    payload = invoice_payload(totals={"net": None, "vat": "", "gross": "240.00"})
    payload.pop("lines")
    response = await post_with_pdf(http, auth, payload, endpoint)
    assert response.status_code == 422, response.text
    errors = errors_of(response)
    assert errors["totals.net"][0] == errors["totals.vat"][0] == "FIELD_REQUIRED"


NUL_CASES = [
    (invoice_payload(note="livré\u0000"), "note"),
    (invoice_payload(invoice_number="F-1\u0000"), "invoice_number"),
    (invoice_payload(supplier={"siret": "41234567010000", "name": "A\u0000"}), "supplier.name"),
    (
        invoice_payload(buyer={"siret": "11000201100044", "service_code": "SF\u0000"}),
        "buyer.service_code",
    ),
    (with_line(description="\u0000"), "lines.0.description"),
    (with_line(quantity="2\u0000"), "lines.0.quantity"),
    (invoice_payload(issue_date="2026-11-20\u0000"), "issue_date"),
    (invoice_payload(type="invoice\u0000"), "type"),
]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(("payload", "field"), NUL_CASES)
async def test_a_nul_character_in_any_invoice_string_is_refused_by_field(
    field_problem: FieldProblem, endpoint: str, payload: dict[str, Any], field: str
) -> None:
    code, message = await field_problem(endpoint, payload, field)
    assert code == "FIELD_INVALID"
    assert "NUL" in message


async def test_a_nul_character_in_the_multipart_invoice_part_is_refused(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    payload = invoice_payload(note="x\u0000y")
    payload.pop("lines")
    response = await post_with_pdf(http, auth, payload)
    assert response.status_code == 422, response.text
    assert errors_of(response)["note"][0] == "FIELD_INVALID"
    assert await stored(sessionmaker) == 0


@pytest.mark.parametrize("key", ["", "   ", "k" * 256])
async def test_an_empty_or_overlong_idempotency_key_is_a_400_and_reserves_nothing(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
    key: str,
) -> None:
    for _ in range(2):
        response = await http.post(
            "/v1/invoices", json=invoice_payload(), headers={**auth, "Idempotency-Key": key}
        )
        assert response.status_code == 400, response.text
        problem = response.json()
        assert problem["code"] == "IDEMPOTENCY_KEY_INVALID"
        assert "Idempotency-Key" in problem["detail"]
    assert await stored(sessionmaker) == 0
    assert await stored(sessionmaker, IdempotencyRecord) == 0
    assert await stored(sessionmaker, OutboxItem) == 0


async def test_a_key_of_255_characters_is_accepted(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await http.post(
        "/v1/invoices", json=invoice_payload(), headers={**auth, "Idempotency-Key": "k" * 255}
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("payload", "field", "hint"),
    [
        (invoice_payload(issue_date="20/11/2026"), "issue_date", "YYYY-MM-DD"),
        (invoice_payload(due_date="2026/12/20"), "due_date", "YYYY-MM-DD"),
        (invoice_payload(issue_date="2026-02-30"), "issue_date", "YYYY-MM-DD"),
        (with_line(unit_price="10,50"), "lines.0.unit_price", "10.50"),
        (with_line(quantity="1 000"), "lines.0.quantity", "10.50"),
        (
            invoice_payload(totals={"net": "200,00", "vat": "40.00", "gross": "240.00"}),
            "totals.net",
            "10.50",
        ),
    ],
)
async def test_a_common_but_wrong_format_is_told_the_expected_one(
    field_problem: FieldProblem, endpoint: str, payload: dict[str, Any], field: str, hint: str
) -> None:
    code, message = await field_problem(endpoint, payload, field)
    assert code == "FIELD_INVALID"
    assert hint in message


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("payload", "field", "limit"),
    [
        (
            without_totals(with_line(quantity="999999999999", unit_price="999999999999")),
            "lines.0",
            "999999999999.99",
        ),
        (
            with_line(quantity="999999999999", unit_price="999999999999"),
            "lines.0",
            "999999999999.99",
        ),
        (without_totals(with_line(quantity="1" + "0" * 12)), "lines.0.quantity", "999999999999"),
        (without_totals(with_line(unit_price="-1e13")), "lines.0.unit_price", "999999999999"),
        (without_totals(with_line(quantity="1e999999999")), "lines.0.quantity", "999999999999"),
        (
            invoice_payload(totals={"net": "1e13", "vat": "0", "gross": "1e13"}),
            "totals.net",
            "999999999999",
        ),
        (
            without_totals(
                invoice_payload(
                    lines=[
                        {
                            "description": "x",
                            "quantity": "1",
                            "unit_price": "900000000000",
                            "vat_rate": "20",
                        }
                    ]
                    * 2
                )
            ),
            "lines",
            "999999999999.99",
        ),
    ],
)
async def test_huge_amounts_are_refused_with_the_limit(
    field_problem: FieldProblem, endpoint: str, payload: dict[str, Any], field: str, limit: str
) -> None:
    code, message = await field_problem(endpoint, payload, field)
    assert code == "FIELD_INVALID"
    assert limit in message


async def test_amounts_up_to_the_limits_are_accepted(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    payload = without_totals(with_line(quantity="833333333333.32", unit_price="1.000000"))
    response = await http.post("/v1/invoices", json=payload, headers=auth)
    assert response.status_code == 201, response.text
    assert response.json()["totals"] == {
        "net": "833333333333.32",
        "vat": "166666666666.66",
        "gross": "999999999999.98",
    }


async def test_money_amounts_are_answered_with_two_decimals(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    payload = with_line(quantity="3", unit_price="100.1")
    payload["totals"] = {"net": "300.3", "vat": "60.06", "gross": 360.36}
    created = await http.post("/v1/invoices", json=payload, headers=auth)
    assert created.status_code == 201, created.text
    fetched = await http.get(created.headers["location"], headers=auth)
    for body in (created.json(), fetched.json()):
        assert body["totals"] == {"net": "300.30", "vat": "60.06", "gross": "360.36"}
        [line] = body["lines"]
        assert (line["quantity"], line["unit_price"], line["net_amount"]) == (
            "3",
            "100.10",
            "300.30",
        )
    payload["invoice_number"] = "F-VALIDATE-1"
    validated = await http.post("/v1/invoices/validate", json=payload, headers=auth)
    assert validated.status_code == 200, validated.text
    invoice = validated.json()["invoice"]
    assert invoice["totals"] == {"net": "300.30", "vat": "60.06", "gross": "360.36"}
    assert invoice["lines"][0]["unit_price"] == "100.10"


async def test_computed_totals_have_two_decimals_in_the_validate_answer(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    payload = without_totals(with_line(quantity="1", unit_price="5"))
    validated = await http.post("/v1/invoices/validate", json=payload, headers=auth)
    assert validated.status_code == 200, validated.text
    assert validated.json()["invoice"]["totals"] == {"net": "5.00", "vat": "1.00", "gross": "6.00"}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("scopes", [(Scope.INVOICES_WRITE,), (Scope.OPERATOR,)])
async def test_an_invoice_for_a_supplier_without_a_structure_is_refused(
    http: httpx.AsyncClient,
    make_key: KeyFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    endpoint: str,
    scopes: tuple[Scope, ...],
) -> None:
    unregistered = "73282932000074"
    headers = await make_key(scopes=scopes, suppliers=(unregistered, OTHER_SUPPLIER_SIRET))
    payload = invoice_payload(supplier={"siret": unregistered, "name": "Sans compte"})
    response = await http.post(endpoint, json=payload, headers=headers)
    assert response.status_code == 422, response.text
    code, message = errors_of(response)["supplier.siret"]
    assert code == "SUPPLIER_NOT_REGISTERED"
    assert unregistered in message
    assert await stored(sessionmaker) == 0
    registered = invoice_payload(supplier={"siret": OTHER_SUPPLIER_SIRET, "name": "BETA"})
    answer = await http.post(endpoint, json=registered, headers=headers)
    assert answer.status_code in (200, 201), answer.text


async def test_a_supplier_the_client_may_not_use_is_not_told_about_its_registration(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    payload = invoice_payload(supplier={"siret": "73282932000074"})
    response = await http.post("/v1/invoices", json=payload, headers=auth)
    assert response.status_code == 422
    assert errors_of(response)["supplier.siret"][0] == "SUPPLIER_NOT_ALLOWED"
