"""Every refusal, the framework's included, is a problem document with a stable code."""

from __future__ import annotations

import httpx
import pytest

from tests.builders import SUPPLIER_SIRET

JSON = {"Content-Type": "application/json"}

# Every route that reads a body, whether FastAPI or the handler parses it.
BODY_ROUTES = [
    ("POST", "/v1/invoices"),
    ("POST", "/v1/invoices/validate"),
    ("POST", "/v1/structures"),
    ("PUT", f"/v1/structures/{SUPPLIER_SIRET}/password"),
    ("POST", "/v1/webhooks"),
    ("POST", "/v1/clients"),
]


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
@pytest.mark.parametrize(
    "body", [b"{not json", b"\xff\xfe\xfd", b"[]", b'"text"', b"{", b'{"a": NaN'], ids=repr
)
async def test_a_malformed_body_is_malformed_request_on_every_route(
    http: httpx.AsyncClient, operator: dict[str, str], method: str, path: str, body: bytes
) -> None:
    response = await http.request(method, path, content=body, headers={**operator, **JSON})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "MALFORMED_REQUEST"
    assert problem["type"].endswith("/malformed-request")
    assert problem["status"] == 400


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=zz"],
)
async def test_a_broken_multipart_body_is_malformed_request(
    http: httpx.AsyncClient, operator: dict[str, str], content_type: str
) -> None:
    response = await http.post(
        "/v1/invoices",
        content=b"--xx\r\nContent-Disposition: form-data\r\n\r\nbroken",
        headers={**operator, "Content-Type": content_type},
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "MALFORMED_REQUEST"


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES[2:])
async def test_a_body_that_is_not_json_is_unsupported_media_type(
    http: httpx.AsyncClient, operator: dict[str, str], method: str, path: str
) -> None:
    response = await http.request(
        method, path, content=b"{}", headers={**operator, "Content-Type": "text/plain"}
    )
    assert response.status_code == 415, response.text
    assert response.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_a_wrong_method_is_405_with_every_allowed_method(
    http: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    response = await http.delete("/v1/invoices", headers=operator)
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["allow"] == "GET, POST"
    problem = response.json()
    assert problem["code"] == "METHOD_NOT_ALLOWED"
    assert problem["type"].endswith("/method-not-allowed")
    one = await http.patch(f"/v1/structures/{SUPPLIER_SIRET}/password", headers=operator)
    assert one.status_code == 405
    assert one.headers["allow"] == "PUT"


async def test_an_unknown_path_is_not_found_with_the_gateway_code(http: httpx.AsyncClient) -> None:
    response = await http.get("/v2/nothing")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
    assert response.json()["type"].endswith("/not-found")


@pytest.mark.parametrize(
    "url",
    [
        "/v1/events?after=9223372036854775808",
        "/v1/events?after=-1",
        "/v1/events?after=" + "9" * 40,
        "/v1/events?limit=9223372036854775808",
        "/v1/invoices?limit=18446744073709551617",
    ],
)
async def test_an_integer_beyond_64_bits_is_request_invalid(
    http: httpx.AsyncClient, operator: dict[str, str], url: str
) -> None:
    response = await http.get(url, headers=operator)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "REQUEST_INVALID"


async def test_the_largest_64_bit_position_is_accepted(
    http: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    response = await http.get("/v1/events?after=9223372036854775807", headers=operator)
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []
