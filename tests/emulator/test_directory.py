"""Loading the directory: the packaged seed and a user's own data file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pydantic
import pytest

from app.emulator.directory import Directory, StructureSpec, read_directory_file
from app.emulator.rules import siret_is_valid
from app.emulator.settings import DEFAULT_DIRECTORY_FILE

from .builders import login, saisie_invoice
from .conftest import MakeClient

NOW = datetime(2025, 1, 1, tzinfo=UTC)
CUSTOM = {
    "structures": [
        {
            "identifier": "98125730567914",
            "designation": "COMMUNE DE TEST",
            "public": True,
            "service_required": True,
            "services": [{"code": "MAIRIE"}],
        },
        {
            "identifier": "93125027408770",
            "designation": "MON ERP SARL",
            "role": "supplier",
            "technical_account": {
                "login": "TECH_1_93125027408770@cpro.fr",
                "password": "pw",
                "password_expires_at": "2030-01-01T00:00:00Z",
            },
        },
    ]
}


def test_the_packaged_seed_has_the_qualification_structures() -> None:
    structures = {spec.identifier: spec for spec in read_directory_file(DEFAULT_DIRECTORY_FILE)}

    state = structures["11000201100044"]
    assert state.designation == "SERVICES DE L'ETAT POUR LA FACTURATION ELECTRONIQUE"
    assert state.service_required
    assert state.ej_required
    assert {s.code for s in state.services} >= {"SFACETAT", "FACTURES_PUBLIQUES"}
    assert any(not s.active for s in state.services)
    assert structures["12345678200028"].service_by_code("SERVICE_DEST_SERV_OBL") is not None
    assert structures["12345678200044"].service_by_code("SERVICE_DEST_EJ_OU_SERV_OBL") is not None
    assert structures["41234567010000"].technical_account is not None
    assert structures["52345678810009"].technical_account is not None
    assert all(siret_is_valid(siret) for siret in structures)


def test_left_out_ids_and_expiry_are_filled_in() -> None:
    specs = [StructureSpec.model_validate(entry) for entry in CUSTOM["structures"]]
    specs[1].technical_account.password_expires_at = None  # type: ignore[union-attr]

    directory = Directory(specs, NOW, validity_days=30)

    first, second = directory.all()
    assert first.id is not None
    assert second.id == first.id + 1
    assert first.services[0].id is not None
    assert second.technical_account is not None
    assert second.technical_account.password_expires_at == datetime(2025, 1, 31, tzinfo=UTC)


async def test_a_custom_directory_file_replaces_the_seed(
    make_client: MakeClient, tmp_path: Path
) -> None:
    path = tmp_path / "directory.json"
    path.write_text(json.dumps(CUSTOM), encoding="utf-8")
    client = await make_client(directory_file=path, check_luhn=False)
    headers = await login(client)
    headers["cpro-account"] = "VEVDSF8xXzkzMTI1MDI3NDA4NzcwQGNwcm8uZnI6cHc="  # base64 of login:pw

    actives = await client.post(
        "/cpro/transverses/v1/recuperer/structures/actives/fournisseur", json={}, headers=headers
    )
    supplier_id = actives.json()["listeStructures"][0]["idStructureCPP"]
    without_service = await client.post(
        "/cpro/factures/v1/soumettre",
        json=saisie_invoice(
            recipient="98125730567914", service=None, ej=None, supplier_id=supplier_id
        ),
        headers=headers,
    )
    with_service = await client.post(
        "/cpro/factures/v1/soumettre",
        json=saisie_invoice(
            recipient="98125730567914", service="MAIRIE", ej=None, supplier_id=supplier_id
        ),
        headers=headers,
    )
    seeded_state = await client.post(
        "/cpro/factures/v1/soumettre",
        json=saisie_invoice("F-9", supplier_id=supplier_id),
        headers=headers,
    )

    assert without_service.json()["codeRetour"] == 20304
    assert with_service.json()["codeRetour"] == 0
    assert seeded_state.json()["codeRetour"] == 20301
    assert len((await client.get("/_emulator/structures")).json()) == 2


def test_a_broken_directory_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "directory.json"
    path.write_text(json.dumps({"structures": [{"identifier": "1"}]}), encoding="utf-8")

    with pytest.raises(pydantic.ValidationError):
        read_directory_file(path)
