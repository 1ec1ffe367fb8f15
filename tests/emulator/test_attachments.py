"""transverses/v1/ajouter/fichier: size, name and extension limits."""

from __future__ import annotations

import httpx
import pytest

from .builders import attachment, login
from .conftest import MakeClient

AJOUTER = "/cpro/transverses/v1/ajouter/fichier"


async def test_an_attachment_gets_a_piece_jointe_id(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    first = await client.post(AJOUTER, json=attachment(), headers=acme)
    second = await client.post(AJOUTER, json=attachment(name="annexe.xml"), headers=acme)

    assert first.status_code == 200
    assert first.json()["codeRetour"] == 0
    assert isinstance(first.json()["pieceJointeId"], int)
    assert second.json()["pieceJointeId"] == first.json()["pieceJointeId"] + 1


async def test_a_file_over_10_mo_is_refused_with_20003(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    limit = 10 * 1024 * 1024

    at_limit = await client.post(AJOUTER, json=attachment(b"\0" * limit), headers=acme)
    over = await client.post(AJOUTER, json=attachment(b"\0" * (limit + 1)), headers=acme)

    assert at_limit.json()["codeRetour"] == 0
    assert over.json()["codeRetour"] == 20003


async def test_the_size_limit_is_a_setting(make_client: MakeClient) -> None:
    client = await make_client(attachment_max_bytes=10)

    response = await client.post(AJOUTER, json=attachment(b"x" * 11), headers=await login(client))

    assert response.json()["codeRetour"] == 20003


@pytest.mark.parametrize(
    ("name", "extension"),
    [
        ("a" * 47 + ".pdf", "PDF"),
        ("facture", "PDF"),
        ("facture.", "PDF"),
        (".pdf", "PDF"),
        ("facture.exe", "EXE"),
        ("facture.pdf", "EXE"),
    ],
    ids=[
        "51 characters",
        "no extension",
        "empty extension",
        "no stem",
        "bad extension",
        "bad declared extension",
    ],
)
async def test_a_badly_named_file_is_refused(
    client: httpx.AsyncClient, acme: dict[str, str], name: str, extension: str
) -> None:
    body = attachment(name=name, pieceJointeExtension=extension)

    response = await client.post(AJOUTER, json=body, headers=acme)

    assert response.json()["codeRetour"] == 20091


async def test_a_50_character_name_is_accepted(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    response = await client.post(AJOUTER, json=attachment(name="a" * 46 + ".pdf"), headers=acme)

    assert response.json()["codeRetour"] == 0


async def test_content_that_is_not_base64_gets_400(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    body = attachment() | {"pieceJointeFichier": "%%% not base64 %%%"}

    response = await client.post(AJOUTER, json=body, headers=acme)

    assert response.status_code == 400
    assert response.json()["codeRetour"] == 20099


async def test_wrapped_base64_is_read(client: httpx.AsyncClient, acme: dict[str, str]) -> None:
    body = attachment(b"x" * 200)
    body["pieceJointeFichier"] = "\n".join(
        body["pieceJointeFichier"][i : i + 76]
        for i in range(0, len(body["pieceJointeFichier"]), 76)
    )

    response = await client.post(AJOUTER, json=body, headers=acme)

    assert response.json()["codeRetour"] == 0
