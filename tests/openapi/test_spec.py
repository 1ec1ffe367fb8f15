"""The committed OpenAPI spec is the app's, and documents every problem answer."""

from __future__ import annotations

from pathlib import Path

from app.cli import render_openapi
from app.main import create_app
from app.settings import Settings

SPEC_FILE = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_the_committed_spec_matches_the_app() -> None:
    expected = render_openapi(create_app(Settings()).openapi())
    assert SPEC_FILE.read_text(encoding="utf-8") == expected, (
        "openapi/openapi.json is stale: run `gateway openapi`"
    )


def test_every_api_operation_documents_its_problem_responses() -> None:
    spec = create_app(Settings()).openapi()
    for path, operations in spec["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in operations.items():
            problems = [
                status
                for status, response in operation["responses"].items()
                if status.startswith("4") and "application/problem+json" in response["content"]
            ]
            assert "401" in problems, (method, path)
            assert "422" in problems or "404" in problems, (method, path)


def test_the_invoice_body_is_described() -> None:
    spec = create_app(Settings()).openapi()
    body = spec["paths"]["/v1/invoices"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/InvoiceIn"
    }
    assert "buyer" in spec["components"]["schemas"]["InvoiceIn"]["properties"]


def test_every_operation_documents_the_answers_the_middleware_gives_for_any_route() -> None:
    spec = create_app(Settings()).openapi()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            documented = set(operation["responses"])
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= documented, (method, path)
            if operation.get("parameters"):
                assert "422" in documented, (method, path)


def test_path_and_query_parameters_are_as_precise_as_the_validation() -> None:
    spec = create_app(Settings()).openapi()

    def parameter(path: str, method: str, name: str) -> dict[str, object]:
        found = [p for p in spec["paths"][path][method]["parameters"] if p["name"] == name]
        schema: dict[str, object] = found[0]["schema"]
        return schema

    siret = r"^[0-9]{14}$"
    assert parameter("/v1/buyers/{siret}/services", "get", "siret")["pattern"] == siret
    assert parameter("/v1/structures/{siret}/password", "put", "siret")["pattern"] == siret
    assert parameter("/v1/invoices", "get", "supplier_siret")["pattern"] == siret
    assert str(parameter("/v1/invoices", "get", "cursor")["pattern"]).startswith("^aW52X")
    assert parameter("/v1/invoices/{invoice_id}", "get", "invoice_id")["pattern"].startswith(
        "^inv_"
    )  # type: ignore[union-attr]
    assert parameter("/v1/events", "get", "after")["maximum"] == 2**63 - 1
