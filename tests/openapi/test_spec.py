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
