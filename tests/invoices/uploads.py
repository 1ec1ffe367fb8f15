"""An invoice sent as a multipart body: the invoice part beside a PDF."""

from __future__ import annotations

import json
from typing import Any

import httpx

# The least the gateway takes for a PDF, when the PDF is not what a test is about.
MINIMAL_PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


async def post_with_pdf(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    payload: dict[str, Any],
    endpoint: str = "/v1/invoices",
) -> httpx.Response:
    """Post `payload` as the `invoice` part beside `MINIMAL_PDF` as the `file` part."""
    return await http.post(
        endpoint,
        files={"file": ("f.pdf", MINIMAL_PDF, "application/pdf")},
        data={"invoice": json.dumps(payload)},
        headers=auth,
    )
