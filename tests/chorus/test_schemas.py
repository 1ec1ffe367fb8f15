"""Wire details: exact JSON numbers, lenient Chorus dates, the `cpro-account` header."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import SecretStr, ValidationError

from app.chorus.accounts import TechnicalAccount
from app.chorus.schemas import (
    CHORUS_TIMEZONE,
    ConsultStructureResponse,
    HistoStatut,
    InvoiceSummary,
    MontantTotal,
    SubmitInvoiceResponse,
    to_json_bytes,
)

from .builders import saisie_invoice


def test_amounts_are_sent_as_exact_json_numbers() -> None:
    totals = MontantTotal(
        montantHtTotal=Decimal("0.10"),
        montantTVA=Decimal("0.02"),
        montantTtcTotal=Decimal("1234567890123.12"),
        montantAPayer=Decimal("50.000000"),
    )
    text = to_json_bytes(totals).decode()
    assert text == (
        '{"montantHtTotal":0.10,"montantTVA":0.02,'
        '"montantTtcTotal":1234567890123.12,"montantAPayer":50.000000}'
    )
    parsed = json.loads(text, parse_float=Decimal)
    assert parsed["montantTtcTotal"] == Decimal("1234567890123.12")
    assert all(not isinstance(value, str) for value in json.loads(text).values())


def test_exponent_decimals_are_written_in_plain_notation() -> None:
    assert to_json_bytes({"a": Decimal("1E+2"), "b": Decimal("-0.5")}) == b'{"a":100,"b":-0.5}'


def test_non_finite_amounts_are_refused() -> None:
    with pytest.raises(ValidationError):
        MontantTotal(
            montantHtTotal=Decimal("NaN"),
            montantTVA=Decimal(0),
            montantTtcTotal=Decimal(0),
            montantAPayer=Decimal(0),
        )
    with pytest.raises(ValueError, match="finite"):
        to_json_bytes({"a": Decimal("Infinity")})


def test_a_submission_leaves_out_none_and_empty_lists_and_keeps_french_names() -> None:
    body = json.loads(to_json_bytes(saisie_invoice(26000101, number="F-1")))
    assert body["numeroFactureSaisi"] == "F-1"
    assert body["fournisseur"] == {"idFournisseur": 26000101}
    assert body["cadreDeFacturation"] == {"codeCadreFacturation": "A1_FACTURE_FOURNISSEUR"}
    assert body["dateFacture"] == date.today().isoformat()
    assert "pieceJointePrincipale" not in body
    assert "commentaire" not in body
    assert body["lignePoste"][0]["lignePosteMontantUnitaireHT"] == 100.10


def test_text_is_sent_as_utf8() -> None:
    assert to_json_bytes({"libelle": "Numéro"}) == '{"libelle":"Numéro"}'.encode()


def test_a_submit_success_reads_chorus_shapes() -> None:
    response = SubmitInvoiceResponse.model_validate(
        {
            "codeRetour": 0,
            "libelle": "GCU_MSG_01_000",
            "identifiantFactureCPP": "8420532",
            "numeroFacture": "20260000000000000002",
            "statutFacture": "DEPOSEE",
            "dateDepot": "2026-04-03",
            "empreinteCertificatDepot": "98q+qTIzpNoJyixTAk5htAw1jMwYMuC9qywhcWyrc9Q=",
            "somethingNew": True,
        }
    )
    assert response.identifiantFactureCPP == 8420532
    assert response.dateDepot == date(2026, 4, 3)
    assert response.model_extra == {"somethingNew": True}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2016-10-25 17:42", datetime(2016, 10, 25, 17, 42, tzinfo=CHORUS_TIMEZONE)),
        ("2018-02-16T15:10:25.536+01:00", datetime.fromisoformat("2018-02-16T15:10:25.536+01:00")),
        ("2024-05-02", datetime(2024, 5, 2, tzinfo=CHORUS_TIMEZONE)),
        (1518735600000, datetime(2018, 2, 15, 23, 0, tzinfo=UTC)),
        ("not a date", None),
        (None, None),
    ],
)
def test_chorus_timestamps_are_read_leniently(raw: object, expected: datetime | None) -> None:
    raw_entry = {"histoStatutCode": "DEPOSEE", "histoStatutDatePassage": raw}
    entry = HistoStatut.model_validate(raw_entry)
    assert entry.histoStatutDatePassage == expected


def test_a_dated_field_in_an_unexpected_shape_reads_none_rather_than_failing() -> None:
    summary = InvoiceSummary.model_validate(
        {"identifiantFactureCPP": 1, "dateDepot": "03/04/2026", "dateFacture": "2026-04-03T10:00"}
    )
    assert summary.dateDepot is None
    assert summary.dateFacture == date(2026, 4, 3)


def test_structure_flags_default_to_false_when_chorus_leaves_them_out() -> None:
    response = ConsultStructureResponse.model_validate(
        {"codeRetour": 0, "parametres": {"codeServiceDoitEtreRenseigne": True}}
    )
    assert response.parametres.codeServiceDoitEtreRenseigne is True
    assert response.parametres.numeroEJDoitEtreRenseigne is False


def test_the_cpro_account_header_is_base64_of_utf8_login_colon_password() -> None:
    account = TechnicalAccount(login="TECH_1_é@cpro.fr", password=SecretStr("mot:de passe"))
    decoded = base64.b64decode(account.cpro_account).decode("utf-8")
    assert decoded == "TECH_1_é@cpro.fr:mot:de passe"


def test_the_qualification_example_header_matches_the_swagger() -> None:
    account = TechnicalAccount(login="login", password=SecretStr("password"))
    assert account.cpro_account == "bG9naW46cGFzc3dvcmQ="


def test_an_account_never_shows_its_password() -> None:
    account = TechnicalAccount(login="TECH_1@cpro.fr", password=SecretStr("hunter2-secret"))
    for text in (repr(account), str(account), account.model_dump_json()):
        assert "hunter2-secret" not in text


def test_a_login_with_a_colon_is_refused() -> None:
    with pytest.raises(ValidationError, match="cannot contain"):
        TechnicalAccount(login="a:b", password=SecretStr("x"))
