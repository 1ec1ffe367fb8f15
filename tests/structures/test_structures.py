"""Supplier structures: encrypted technical accounts, operator endpoints, rotation, CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.crypto import PasswordBox, SecretsKeyMissing, load_password_box, new_key
from app.settings import ChorusSettings
from app.structures.models import SupplierStructure
from app.structures.service import technical_account
from tests.builders import SUPPLIER_SIRET
from tests.conftest import TEST_SECRETS_KEY

PASSWORD = "emulator-demo-1"
LOGIN = "TECH_1_41234567010000@cpro.fr"


async def test_an_operator_registers_a_structure_whose_password_is_never_shown(
    http: httpx.AsyncClient,
    operator: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    response = await http.post(
        "/v1/structures",
        json={"siret": "412 345 670 10000", "login": LOGIN, "password": PASSWORD},
        headers=operator,
    )
    assert response.status_code == 201, response.text
    assert response.json()["siret"] == SUPPLIER_SIRET
    assert PASSWORD not in response.text
    listed = await http.get("/v1/structures", headers=operator)
    assert [s["login"] for s in listed.json()] == [LOGIN]
    assert PASSWORD not in listed.text
    async with sessionmaker() as session:
        row = (await session.execute(text("SELECT * FROM supplier_structure"))).one()
        structure = await session.scalar(select(SupplierStructure))
    assert PASSWORD not in " ".join(str(value) for value in row)
    assert structure is not None
    box = PasswordBox([TEST_SECRETS_KEY.get_secret_value()])
    assert technical_account(structure, box).password.get_secret_value() == PASSWORD


async def test_registering_twice_is_409_and_rotation_replaces_the_password(
    http: httpx.AsyncClient,
    operator: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    body = {"siret": SUPPLIER_SIRET, "login": LOGIN, "password": PASSWORD}
    await http.post("/v1/structures", json=body, headers=operator)
    again = await http.post("/v1/structures", json=body, headers=operator)
    assert again.status_code == 409
    assert again.json()["code"] == "STRUCTURE_EXISTS"
    rotated = await http.put(
        f"/v1/structures/{SUPPLIER_SIRET}/password", json={"password": "new-one"}, headers=operator
    )
    assert rotated.status_code == 200
    async with sessionmaker() as session:
        structure = await session.scalar(select(SupplierStructure))
    assert structure is not None
    box = PasswordBox([TEST_SECRETS_KEY.get_secret_value()])
    assert technical_account(structure, box).password.get_secret_value() == "new-one"


async def test_structure_endpoints_need_the_operator_scope(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    body = {"siret": SUPPLIER_SIRET, "login": LOGIN, "password": PASSWORD}
    assert (await http.post("/v1/structures", json=body, headers=auth)).status_code == 403
    assert (await http.get("/v1/structures", headers=auth)).status_code == 403


async def test_bad_structures_are_422_and_unknown_ones_404(
    http: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    bad = await http.post(
        "/v1/structures", json={"siret": "123", "login": LOGIN, "password": "x"}, headers=operator
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["code"] == "SIRET_INVALID"
    missing = await http.put(
        f"/v1/structures/{SUPPLIER_SIRET}/password", json={"password": "x"}, headers=operator
    )
    assert missing.status_code == 404


def test_keys_rotate_old_ciphertexts_still_open() -> None:
    old, new = new_key(), new_key()
    sealed = PasswordBox([old]).seal(SecretStr("s3cret"))
    assert PasswordBox([new, old]).open(sealed).get_secret_value() == "s3cret"
    with pytest.raises(SecretsKeyMissing):
        PasswordBox([new]).open(sealed)
    assert "s3cret" not in repr(PasswordBox([new]))


def test_a_real_target_needs_a_key(tmp_path: Path) -> None:
    with pytest.raises(SecretsKeyMissing):
        load_password_box(ChorusSettings(target="sandbox"))
    key_file = tmp_path / "key"
    key_file.write_text(new_key())
    box = load_password_box(ChorusSettings(target="sandbox", secrets_key_file=key_file))
    assert box.open(box.seal(SecretStr("x"))).get_secret_value() == "x"


def test_the_emulator_target_creates_a_private_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    box = load_password_box(ChorusSettings())
    key_file = tmp_path / ".gateway-secrets.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    sealed = box.seal(SecretStr("x"))
    assert load_password_box(ChorusSettings()).open(sealed).get_secret_value() == "x"


async def test_the_cli_registers_and_rotates_a_structure(
    database_url: str, tmp_path: Path, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CHORUS_SECRETS_KEY": TEST_SECRETS_KEY.get_secret_value(),
    }

    def gateway(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own command
            [sys.executable, "-m", "app", "structures", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=env,
        )

    added = gateway(
        "add", "--siret", SUPPLIER_SIRET, "--login", LOGIN, "--password-file", str(password_file)
    )
    assert added.returncode == 0, added.stderr
    assert PASSWORD not in added.stdout + added.stderr
    again = gateway(
        "add", "--siret", SUPPLIER_SIRET, "--login", LOGIN, "--password-file", str(password_file)
    )
    assert again.returncode != 0
    assert "already registered" in again.stderr
    password_file.write_text("rotated")
    rotated = gateway(
        "add",
        "--siret",
        SUPPLIER_SIRET,
        "--login",
        LOGIN,
        "--password-file",
        str(password_file),
        "--rotate",
    )
    assert rotated.returncode == 0, rotated.stderr
    async with sessionmaker() as session:
        structure = await session.scalar(select(SupplierStructure))
    assert structure is not None
    box = PasswordBox([TEST_SECRETS_KEY.get_secret_value()])
    assert technical_account(structure, box).password.get_secret_value() == "rotated"


def test_the_emulator_target_creates_a_missing_key_file_where_told(tmp_path: Path) -> None:
    key_file = tmp_path / "state" / "secrets.key"
    key_file.parent.mkdir()
    box = load_password_box(ChorusSettings(secrets_key_file=key_file))
    assert key_file.exists()
    reopened = load_password_box(ChorusSettings(secrets_key_file=key_file))
    assert reopened.open(box.seal(SecretStr("x"))).get_secret_value() == "x"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("login", "TECH:1@cpro.fr"),
        ("login", "TECH\u00001@cpro.fr"),
        ("login", "TECH\n1@cpro.fr"),
        ("login", "TECH\u00851@cpro.fr"),
        ("login", ""),
        ("login", "x" * 201),
        ("password", "emulator\u0000demo"),
        ("password", "emulator\x1bdemo"),
        ("siret", "41234567010000\u0000"),
        ("vat_exemption_reason", "Article 261\u0000"),
    ],
)
async def test_a_login_or_password_chorus_cannot_take_is_refused_at_registration(
    http: httpx.AsyncClient,
    operator: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
    field: str,
    value: str,
) -> None:
    body = {"siret": SUPPLIER_SIRET, "login": LOGIN, "password": PASSWORD, field: value}
    response = await http.post("/v1/structures", json=body, headers=operator)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "REQUEST_INVALID"
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert PASSWORD not in response.text
    async with sessionmaker() as session:
        assert await session.scalar(select(SupplierStructure)) is None


@pytest.mark.parametrize(
    "body",
    [{"password": "new\u0000one"}, {"password": "new-one", "login": "a:b"}],
)
async def test_rotation_applies_the_same_rules(
    http: httpx.AsyncClient, operator: dict[str, str], body: dict[str, str]
) -> None:
    created = {"siret": SUPPLIER_SIRET, "login": LOGIN, "password": PASSWORD}
    assert (await http.post("/v1/structures", json=created, headers=operator)).status_code == 201
    response = await http.put(
        f"/v1/structures/{SUPPLIER_SIRET}/password", json=body, headers=operator
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] in {"login", "password"}


def test_the_cli_refuses_a_login_with_a_colon(database_url: str, tmp_path: Path) -> None:
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD)
    added = subprocess.run(  # noqa: S603 - our own command
        [
            sys.executable,
            "-m",
            "app",
            "structures",
            "add",
            "--siret",
            SUPPLIER_SIRET,
            "--login",
            "TECH:1",
            "--password-file",
            str(password_file),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "CHORUS_SECRETS_KEY": TEST_SECRETS_KEY.get_secret_value(),
        },
    )
    assert added.returncode != 0
    assert "login" in added.stderr
    assert "':'" in added.stderr


async def test_concurrent_registrations_of_one_siret_give_one_201_and_409s(
    http: httpx.AsyncClient,
    operator: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    body = {"siret": SUPPLIER_SIRET, "login": LOGIN, "password": PASSWORD}
    responses = await asyncio.gather(
        *(http.post("/v1/structures", json=body, headers=operator) for _ in range(20))
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * 19, [r.text for r in responses if r.status_code >= 500]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"STRUCTURE_EXISTS"}
    async with sessionmaker() as session:
        assert len((await session.scalars(select(SupplierStructure))).all()) == 1
