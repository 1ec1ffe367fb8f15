"""Supporting documents: sent with the invoice or added while it is queued, checked against
Chorus's limits, stored and served back."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.invoices.models import Invoice, InvoiceAttachment
from app.outbox.models import OutboxItem
from app.settings import Settings
from tests.builders import OTHER_SUPPLIER_SIRET, invoice_payload
from tests.formats.pdfs import blank_pdf

pytestmark = pytest.mark.usefixtures("registered_suppliers")

MAX_EACH = 4096
MAX_TOTAL = 12 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
NOTE = b"%PDF-1.4\n% delivery note\n%%EOF\n"

Part = tuple[str, tuple[str, bytes, str]]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    api = settings.api.model_copy(
        update={
            "max_attachment_bytes": MAX_EACH,
            "max_attachments_total_bytes": MAX_TOTAL,
            "max_attachments": 4,
        }
    )
    return settings.model_copy(update={"api": api})


def attachment(name: str, content: bytes = NOTE) -> Part:
    return ("attachment", (name, content, "application/octet-stream"))


async def submit(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    *parts: Part,
    pdf: bytes | None = None,
    headers: dict[str, str] | None = None,
    **overrides: Any,
) -> httpx.Response:
    files = list(parts)
    if pdf is not None:
        files.insert(0, ("file", ("facture.pdf", pdf, "application/pdf")))
    return await http.post(
        "/v1/invoices",
        data={"invoice": json.dumps(invoice_payload(**overrides))},
        files=files,
        headers={**auth, **(headers or {})},
    )


async def stored_attachments(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(InvoiceAttachment)) or 0


async def test_a_json_invoice_with_two_attachments_stores_and_serves_them(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await submit(
        http, auth, attachment("bon-de-livraison.pdf"), attachment("releve.png", PNG)
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["pdf"] is None
    assert body["chorus"]["syntax"] == "IN_DP_E1_CII_16B"
    url = f"/v1/invoices/{body['id']}/attachments"
    assert body["attachments"] == {"count": 2, "url": url}
    listed = (await http.get(url, headers=auth)).json()["items"]
    assert listed == [
        {
            "position": 1,
            "filename": "bon-de-livraison.pdf",
            "content_type": "application/pdf",
            "size": len(NOTE),
            "sha256": hashlib.sha256(NOTE).hexdigest(),
            "url": f"{url}/1",
        },
        {
            "position": 2,
            "filename": "releve.png",
            "content_type": "image/png",
            "size": len(PNG),
            "sha256": hashlib.sha256(PNG).hexdigest(),
            "url": f"{url}/2",
        },
    ]
    served = await http.get(f"{url}/2", headers=auth)
    assert served.status_code == 200
    assert served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert "releve.png" in served.headers["content-disposition"]
    assert (await http.get(f"{url}/3", headers=auth)).status_code == 404
    read = (await http.get(f"/v1/invoices/{body['id']}", headers=auth)).json()
    assert read["attachments"]["count"] == 2


@pytest.mark.parametrize(
    ("name", "content", "code", "words"),
    [
        ("n" * 47 + ".pdf", NOTE, "ATTACHMENT_INVALID", "51 characters"),
        ("bon-de-livraison", NOTE, "ATTACHMENT_INVALID", "needs an extension"),
        ("setup.exe", NOTE, "ATTACHMENT_INVALID", "needs an extension"),
        ("vide.pdf", b"", "ATTACHMENT_INVALID", "empty"),
        ("factur-x.xml", b"<x/>", "ATTACHMENT_INVALID", "invoice's own XML"),
        ("gros.pdf", b"%PDF-" + b"0" * MAX_EACH, "ATTACHMENT_TOO_LARGE", "4096-byte limit"),
    ],
    ids=["long-name", "no-extension", "forbidden-extension", "empty", "reserved", "too-large"],
)
async def test_a_bad_attachment_is_refused_with_its_code_and_nothing_is_stored(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
    name: str,
    content: bytes,
    code: str,
    words: str,
) -> None:
    response = await submit(
        http, auth, attachment("ok.pdf"), attachment(name, content), pdf=blank_pdf()
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == ("attachments.1", code)
    assert words in error["message"]
    assert await stored_attachments(sessionmaker) == 0
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Invoice)) == 0


async def test_each_bad_part_is_reported_with_the_invoices_other_problems(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await submit(
        http,
        auth,
        attachment("a.exe"),
        attachment("ok.pdf"),
        attachment("ok.pdf"),
        invoice_number="",
    )
    assert response.status_code == 422
    fields = {(e["field"], e["code"]) for e in response.json()["errors"]}
    assert ("attachments.0", "ATTACHMENT_INVALID") in fields
    assert ("attachments.2", "ATTACHMENT_INVALID") in fields  # the same name twice
    assert ("attachments.1", "ATTACHMENT_INVALID") not in fields
    assert any(field == "invoice_number" for field, _ in fields)


async def test_the_pdf_and_attachments_together_may_not_pass_the_total(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    each = b"%PDF-" + b"0" * (MAX_EACH - 100)
    parts = [attachment(f"piece-{n}.pdf", each) for n in range(3)]
    response = await submit(http, auth, *parts, pdf=blank_pdf())
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == ("attachments", "ATTACHMENT_TOO_LARGE")


async def test_more_attachments_than_allowed_are_refused(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    parts = [attachment(f"p{n}.txt", b"x") for n in range(5)]
    response = await submit(http, auth, *parts, pdf=blank_pdf())
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == ("attachments", "ATTACHMENT_INVALID")


async def test_a_cii_invoice_refuses_a_type_en16931_cannot_embed_and_names_the_allowed_ones(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await submit(http, auth, attachment("contrat.docx", b"PK\x03\x04"))
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == ("attachments.0", "ATTACHMENT_INVALID")
    assert "BG-24" in error["message"]
    assert "xlsx" in error["message"]
    # With the invoice's PDF it goes beside the CII in a Factur-X, which takes any type.
    response = await submit(http, auth, attachment("contrat.docx", b"PK\x03\x04"), pdf=blank_pdf())
    assert response.status_code == 201, response.text
    assert response.json()["chorus"]["syntax"] == "IN_DP_E2_CII_FACTURX"


async def test_attachments_can_be_added_while_the_invoice_waits_for_its_first_attempt(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    created = (await submit(http, auth, attachment("a.pdf"), pdf=blank_pdf())).json()
    url = f"/v1/invoices/{created['id']}/attachments"
    added = await http.post(url, files=[attachment("b.csv", b"a;b\n1;2\n")], headers=auth)
    assert added.status_code == 201, added.text
    assert [(a["position"], a["filename"]) for a in added.json()["items"]] == [
        (1, "a.pdf"),
        (2, "b.csv"),
    ]
    again = await http.post(url, files=[attachment("a.pdf")], headers=auth)
    assert again.status_code == 422
    assert again.json()["errors"][0]["field"] == "attachments.0"

    # A worker claimed the delivery: what reaches Chorus can no longer change.
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(OutboxItem).where(OutboxItem.invoice_id == created["id"]).values(attempts=1)
        )
    closed = await http.post(url, files=[attachment("c.pdf")], headers=auth)
    assert closed.status_code == 409
    assert closed.json()["code"] == "ATTACHMENTS_CLOSED"
    assert await stored_attachments(sessionmaker) == 2


async def test_only_callers_who_see_the_invoice_may_add_or_read_attachments(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    make_key: Any,
) -> None:
    created = (await submit(http, auth, attachment("a.pdf"), pdf=blank_pdf())).json()
    other = await make_key(suppliers=(OTHER_SUPPLIER_SIRET,))
    url = f"/v1/invoices/{created['id']}/attachments"
    assert (await http.get(url, headers=other)).status_code == 404
    assert (await http.get(f"{url}/1", headers=other)).status_code == 404
    posted = await http.post(url, files=[attachment("b.pdf")], headers=other)
    assert posted.status_code == 404


async def test_the_idempotency_fingerprint_covers_the_attachments(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    payload = invoice_payload()
    key = {"Idempotency-Key": "attachments-1"}
    first = await submit(http, auth, attachment("a.pdf"), headers=key, **payload)
    assert first.status_code == 201, first.text
    replay = await submit(http, auth, attachment("a.pdf"), headers=key, **payload)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    other = await submit(http, auth, attachment("a.pdf", NOTE + b" "), headers=key, **payload)
    assert other.status_code == 422
    assert other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
