"""Every client method against the emulator, in process (httpx's ASGITransport)."""

from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal

import pytest
from pydantic import SecretStr

from app.chorus.accounts import TechnicalAccount
from app.chorus.client import (
    INVOICE_HISTORY,
    SEARCH_SERVICES,
    SEARCH_STRUCTURES,
    SEARCH_SUPPLIER_INVOICES,
)
from app.chorus.errors import ChorusAuthError, ChorusDuplicate, ChorusRefusal, ChorusTokenError

from .builders import (
    NO_FLAGS_SIRET,
    PDF_BYTES,
    STATE_SIRET,
    SUPPLIER_1,
    SUPPLIER_1_SIRET,
    SUPPLIER_2,
    SUPPLIER_2_SIRET,
    pdf_invoice,
    saisie_invoice,
)
from .conftest import InProcessEmulator

SUPPLIER_1_ID = 26000101
SUPPLIER_2_ID = 26000102
STATE_ID = 26000001


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# --- submission --------------------------------------------------------------------------------


async def test_a_structured_invoice_is_deposited(in_process: InProcessEmulator) -> None:
    request = saisie_invoice(SUPPLIER_1_ID, number="F-2025-0001")
    async with in_process.client() as client:
        result = await client.submit_invoice(SUPPLIER_1, request)
    assert result.codeRetour == 0
    assert result.numeroFacture == "F-2025-0001"
    assert result.statutFacture == "DEPOSEE"
    assert result.dateDepot is not None
    truth = await in_process.invoices()
    assert [(i["id"], i["number"]) for i in truth["invoices"]] == [
        (result.identifiantFactureCPP, "F-2025-0001")
    ]


async def test_a_pdf_invoice_is_deposited_after_its_upload(in_process: InProcessEmulator) -> None:
    async with in_process.client() as client:
        attachment_id = await client.upload_attachment(
            SUPPLIER_1, "facture.pdf", "application/pdf", PDF_BYTES
        )
        result = await client.submit_invoice(SUPPLIER_1, pdf_invoice(SUPPLIER_1_ID, attachment_id))
        detail = await client.consult_invoice(SUPPLIER_1, result.identifiantFactureCPP)
    assert isinstance(attachment_id, int)
    assert detail.modeDepot == "DEPOT_PDF_API"
    assert detail.model_extra is not None
    assert detail.model_extra["pieceJointePrincipale"][0]["pieceJointePrincipaleId"] == (
        attachment_id
    )


async def test_amounts_survive_the_round_trip_exactly(in_process: InProcessEmulator) -> None:
    request = saisie_invoice(SUPPLIER_1_ID, unit_price=Decimal("33.33"), quantity=Decimal("3"))
    async with in_process.client() as client:
        result = await client.submit_invoice(SUPPLIER_1, request)
        detail = await client.consult_invoice(SUPPLIER_1, result.identifiantFactureCPP)
    assert detail.montantTotal is not None
    assert detail.montantTotal.montantHtTotal == Decimal("99.99")
    assert detail.montantTotal.montantTtcTotal == Decimal("119.99")


async def test_a_business_refusal_on_http_200_carries_code_and_label(
    in_process: InProcessEmulator,
) -> None:
    request = saisie_invoice(SUPPLIER_1_ID, recipient="99999999999999")
    async with in_process.client() as client:
        with pytest.raises(ChorusRefusal) as caught:
            await client.submit_invoice(SUPPLIER_1, request)
    assert type(caught.value) is ChorusRefusal
    assert (caught.value.code, caught.value.status_code) == (20301, 200)
    assert caught.value.label


async def test_a_business_refusal_on_http_400_is_the_same_refusal(
    in_process_400: InProcessEmulator,
) -> None:
    request = saisie_invoice(SUPPLIER_1_ID, ej=None)
    async with in_process_400.client() as client:
        with pytest.raises(ChorusRefusal) as caught:
            await client.submit_invoice(SUPPLIER_1, request)
    assert (caught.value.code, caught.value.status_code) == (20303, 400)


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"service": "NOPE"}, 20302),
        ({"service": None}, 20304),
        ({"unit_price": Decimal("10"), "montantTotal": None}, 20305),
        ({"lignePoste": []}, 20306),
        ({"invoice_type": "AVOIR"}, 20308),
    ],
    ids=["service unknown", "service missing", "amounts", "no lines", "credit note"],
)
async def test_each_submission_rule_is_a_refusal(
    in_process: InProcessEmulator, overrides: dict[str, object], code: int
) -> None:
    if overrides.get("montantTotal", 0) is None:
        base = saisie_invoice(SUPPLIER_1_ID)
        total = base.montantTotal.model_copy(update={"montantHtTotal": Decimal("1.00")})
        request = base.model_copy(update={"montantTotal": total})
    else:
        request = saisie_invoice(SUPPLIER_1_ID, **overrides)  # type: ignore[arg-type]
    async with in_process.client() as client:
        with pytest.raises(ChorusRefusal) as caught:
            await client.submit_invoice(SUPPLIER_1, request)
    assert caught.value.code == code


async def test_invoicing_for_another_supplier_is_refused(in_process: InProcessEmulator) -> None:
    async with in_process.client() as client:
        with pytest.raises(ChorusRefusal) as caught:
            await client.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_2_ID))
    assert caught.value.code == 20307


@pytest.mark.parametrize("refusal_status", [200, 400])
async def test_a_second_invoice_with_the_same_number_is_a_duplicate(
    refusal_status: int,
) -> None:
    emulator = InProcessEmulator(refusal_http_status=refusal_status)
    try:
        async with emulator.client() as client:
            request = saisie_invoice(SUPPLIER_1_ID, number="D-1")
            first = await client.submit_invoice(SUPPLIER_1, request)
            with pytest.raises(ChorusDuplicate) as caught:
                await client.submit_invoice(SUPPLIER_1, request)
            found = await client.search_supplier_invoices(SUPPLIER_1, invoice_number="D-1")
        assert (caught.value.code, caught.value.status_code) == (20300, refusal_status)
        assert [invoice.identifiantFactureCPP for invoice in found] == [first.identifiantFactureCPP]
        assert (await emulator.invoices())["duplicates_refused"] == 1
    finally:
        await emulator.aclose()


async def test_duplicate_codes_are_a_constructor_setting(in_process: InProcessEmulator) -> None:
    async with in_process.client(duplicate_codes=frozenset({20999})) as client:
        await client.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID, number="D-2"))
        with pytest.raises(ChorusRefusal) as caught:
            await client.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID, number="D-2"))
    assert type(caught.value) is ChorusRefusal
    assert caught.value.code == 20300


async def test_an_attachment_over_the_limit_is_refused_with_20003() -> None:
    emulator = InProcessEmulator(attachment_max_bytes=1024)
    try:
        async with emulator.client() as client:
            with pytest.raises(ChorusRefusal) as caught:
                await client.upload_attachment(
                    SUPPLIER_1, "big.pdf", "application/pdf", b"%PDF" + b"0" * 2048
                )
        assert caught.value.code == 20003
    finally:
        await emulator.aclose()


# --- reading invoices --------------------------------------------------------------------------


async def test_a_search_reads_every_page(in_process: InProcessEmulator) -> None:
    async with in_process.client() as client:
        sent = [
            (await client.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID)))
            for _ in range(5)
        ]
        await client.submit_invoice(SUPPLIER_2, saisie_invoice(SUPPLIER_2_ID))
        found = await client.search_supplier_invoices(SUPPLIER_1, page_size=2)
    assert sorted(i.identifiantFactureCPP for i in found) == sorted(
        s.identifiantFactureCPP for s in sent
    )
    assert (await in_process.stats())["calls"][SEARCH_SUPPLIER_INVOICES] == 3


async def test_a_search_filters_by_number_status_and_supplier(
    in_process: InProcessEmulator,
) -> None:
    async with in_process.client() as client:
        first = await client.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID, number="S-1"))
        await client.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID, number="S-2"))
        response = await in_process.control.post(
            f"/_emulator/invoices/{first.identifiantFactureCPP}/status",
            json={"statut": "REJETEE", "motif": "EJ inconnu"},
        )
        response.raise_for_status()
        by_number = await client.search_supplier_invoices(SUPPLIER_1, invoice_number="S-2")
        rejected = await client.search_supplier_invoices(SUPPLIER_1, statuses=["REJETEE"])
        by_supplier = await client.search_supplier_invoices(
            SUPPLIER_1, supplier_id=SUPPLIER_1_ID, invoice_type="FACTURE"
        )
        nothing = await client.search_supplier_invoices(SUPPLIER_2)
    assert [i.numeroFacture for i in by_number] == ["S-2"]
    assert [(i.numeroFacture, i.statut, i.commentaireEtatCourant) for i in rejected] == [
        ("S-1", "REJETEE", "EJ inconnu")
    ]
    assert len(by_supplier) == 2
    assert nothing == []


async def test_an_invoice_history_lists_changes_oldest_first_with_reasons(
    in_process: InProcessEmulator,
) -> None:
    async with in_process.client() as client:
        sent = await client.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID))
        for status, reason in [
            ("EN_COURS_ACHEMINEMENT", None),
            ("MISE_A_DISPOSITION", None),
            ("SUSPENDUE", "Pièce justificative manquante"),
        ]:
            response = await in_process.control.post(
                f"/_emulator/invoices/{sent.identifiantFactureCPP}/status",
                json={"statut": status, "motif": reason},
            )
            response.raise_for_status()
        history = await client.invoice_history(SUPPLIER_1, sent.identifiantFactureCPP)
        detail = await client.consult_invoice(SUPPLIER_1, sent.identifiantFactureCPP)
    assert history.invoice_id == sent.identifiantFactureCPP
    assert history.current_status == "SUSPENDUE" == detail.statutFacture
    assert [change.code for change in history.changes] == [
        "DEPOSEE",
        "EN_COURS_ACHEMINEMENT",
        "MISE_A_DISPOSITION",
        "SUSPENDUE",
    ]
    assert history.changes[-1].comment == "Pièce justificative manquante"
    assert all(isinstance(c.at, datetime) and c.at.tzinfo is not None for c in history.changes)


async def test_a_long_history_is_asked_page_by_page_and_read_whole(
    in_process: InProcessEmulator,
) -> None:
    """The emulator grants 3 statuses a page (EMULATOR_HISTORY_PAGE_SIZE): 7 take three pages."""
    steps = [
        "EN_COURS_ACHEMINEMENT",
        "MISE_A_DISPOSITION",
        "SUSPENDUE",
        "COMPLETEE",
        "MISE_A_DISPOSITION",
        "MANDATEE",
    ]
    async with in_process.client() as client:
        sent = await client.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID))
        for status in steps:
            response = await in_process.control.post(
                f"/_emulator/invoices/{sent.identifiantFactureCPP}/status",
                json={"statut": status, "motif": "Pièce manquante"},
            )
            response.raise_for_status()
        history = await client.invoice_history(SUPPLIER_1, sent.identifiantFactureCPP)
    assert [change.code for change in history.changes] == ["DEPOSEE", *steps]
    assert history.current_status == "MANDATEE"
    assert (await in_process.stats())["calls"][INVOICE_HISTORY] == 3


async def test_a_newest_first_history_is_still_returned_oldest_first() -> None:
    emulator = InProcessEmulator(history_newest_first=True)
    try:
        async with emulator.client() as client:
            sent = await client.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID))
            await emulator.control.post(
                f"/_emulator/invoices/{sent.identifiantFactureCPP}/status",
                json={"statut": "EN_COURS_ACHEMINEMENT"},
            )
            history = await client.invoice_history(SUPPLIER_1, sent.identifiantFactureCPP)
        assert [c.code for c in history.changes] == ["DEPOSEE", "EN_COURS_ACHEMINEMENT"]
    finally:
        await emulator.aclose()


async def test_an_unknown_invoice_is_a_refusal_with_20000(in_process: InProcessEmulator) -> None:
    async with in_process.client() as client:
        with pytest.raises(ChorusRefusal) as caught:
            await client.consult_invoice(SUPPLIER_1, 123)
        with pytest.raises(ChorusRefusal):
            await client.invoice_history(SUPPLIER_1, 123)
    assert caught.value.code == 20000


async def test_another_suppliers_invoice_is_not_visible(in_process: InProcessEmulator) -> None:
    async with in_process.client() as client:
        sent = await client.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID))
        with pytest.raises(ChorusRefusal):
            await client.consult_invoice(SUPPLIER_2, sent.identifiantFactureCPP)


# --- structures --------------------------------------------------------------------------------


async def test_a_structure_is_found_by_siret(in_process: InProcessEmulator) -> None:
    async with in_process.client() as client:
        found = await client.search_structures(SUPPLIER_1, STATE_SIRET)
        supplier_id = await client.find_structure_id(SUPPLIER_2, SUPPLIER_2_SIRET)
        unknown = await client.find_structure_id(SUPPLIER_1, "99999999999999")
    assert [(s.idStructureCPP, s.identifiantStructure, s.statut) for s in found] == [
        (STATE_ID, STATE_SIRET, "ACTIVE")
    ]
    assert supplier_id == SUPPLIER_2_ID
    assert unknown is None


async def test_structure_ids_are_cached_per_api_url_and_siret_until_the_ttl(
    in_process: InProcessEmulator,
) -> None:
    clock = FakeClock()
    async with in_process.client(clock=clock, directory_cache_seconds=600) as client:
        assert await client.find_structure_id(SUPPLIER_1, STATE_SIRET) == STATE_ID
        # The directory is shared: another account's lookup of the same SIRET hits the cache.
        assert await client.find_structure_id(SUPPLIER_2, STATE_SIRET) == STATE_ID
        clock.now += 599
        assert await client.find_structure_id(SUPPLIER_1, STATE_SIRET) == STATE_ID
        assert (await in_process.stats())["calls"][SEARCH_STRUCTURES] == 1
        clock.now += 1
        assert await client.find_structure_id(SUPPLIER_1, STATE_SIRET) == STATE_ID
        assert await client.find_structure_id(SUPPLIER_1, NO_FLAGS_SIRET) == 26000005
    assert (await in_process.stats())["calls"][SEARCH_STRUCTURES] == 3


async def test_a_zero_ttl_disables_the_structure_cache(in_process: InProcessEmulator) -> None:
    async with in_process.client(directory_cache_seconds=0) as client:
        for _ in range(2):
            await client.find_structure_id(SUPPLIER_1, STATE_SIRET)
    assert (await in_process.stats())["calls"][SEARCH_STRUCTURES] == 2


async def test_a_structure_shows_its_flags_and_the_password_expiry(
    in_process: InProcessEmulator,
) -> None:
    async with in_process.client() as client:
        state = await client.consult_structure(SUPPLIER_1, STATE_ID)
        supplier = await client.consult_structure(SUPPLIER_1, SUPPLIER_1_ID)
        no_flags = await client.consult_structure(SUPPLIER_1, 26000005)
    assert state.parametres.codeServiceDoitEtreRenseigne is True
    assert state.parametres.numeroEJDoitEtreRenseigne is True
    assert no_flags.parametres.codeServiceDoitEtreRenseigne is False
    assert supplier.informationGenerales is not None
    assert supplier.informationGenerales.identifiantStructure == SUPPLIER_1_SIRET
    expiry = supplier.informationGenerales.dateExpirationMotPasseCompteTech
    assert expiry is not None
    assert expiry.tzinfo is not None


async def test_services_are_read_over_every_page(in_process: InProcessEmulator) -> None:
    async with in_process.client() as client:
        services = await client.search_services(SUPPLIER_1, STATE_ID, page_size=2)
    codes = {s.codeService: s.estActif for s in services}
    assert codes == {
        "SFACETAT": True,
        "DIRINFRA": True,
        "COMPTABILITE": True,
        "SFACANCIEN": False,
        "FACTURES_PUBLIQUES": True,
    }
    assert (await in_process.stats())["calls"][SEARCH_SERVICES] == 3


async def test_a_service_says_whether_it_needs_an_ej(in_process: InProcessEmulator) -> None:
    async with in_process.client() as client:
        services = {s.codeService: s for s in await client.search_services(SUPPLIER_1, STATE_ID)}
        accounting = await client.consult_service(
            SUPPLIER_1, STATE_ID, services["COMPTABILITE"].idService
        )
        facturier = await client.consult_service(
            SUPPLIER_1, STATE_ID, services["SFACETAT"].idService
        )
    assert accounting.parametres.numeroEngagement is True
    assert facturier.parametres.numeroEngagement is False
    assert facturier.informationsGenerales is not None
    assert facturier.informationsGenerales.codeService == "SFACETAT"


async def test_an_account_lists_the_structures_it_may_invoice_from(
    in_process: InProcessEmulator,
) -> None:
    async with in_process.client() as client:
        first = await client.active_supplier_structures(SUPPLIER_1)
        second = await client.active_supplier_structures(SUPPLIER_2)
    assert [(s.idStructureCPP, s.identifiant) for s in first] == [(SUPPLIER_1_ID, SUPPLIER_1_SIRET)]
    assert [s.idStructureCPP for s in second] == [SUPPLIER_2_ID]


async def test_the_health_check_answers(in_process: InProcessEmulator) -> None:
    async with in_process.client() as client:
        assert (await client.health_check(SUPPLIER_1))["codeRetour"] == 0


async def test_the_health_check_without_account_when_pisté_wants_one() -> None:
    relaxed = InProcessEmulator(health_check_requires_account=False)
    strict = InProcessEmulator()
    try:
        async with relaxed.client() as client:
            assert (await client.health_check())["codeRetour"] == 0
        async with strict.client() as client:
            with pytest.raises(ChorusAuthError):
                await client.health_check()
    finally:
        await relaxed.aclose()
        await strict.aclose()


# --- tokens and accounts -----------------------------------------------------------------------


async def test_one_token_serves_many_calls(in_process: InProcessEmulator) -> None:
    async with in_process.client() as client:
        for _ in range(4):
            await client.active_supplier_structures(SUPPLIER_1)
    assert (await in_process.stats())["calls"]["oauth/token"] == 1


async def test_the_token_is_refreshed_before_it_expires_by_the_clients_clock() -> None:
    emulator = InProcessEmulator(token_expires_in=600)
    clock = FakeClock()
    try:
        async with emulator.client(clock=clock, token_refresh_margin_seconds=120) as client:
            await client.active_supplier_structures(SUPPLIER_1)
            clock.now += 479
            await client.active_supplier_structures(SUPPLIER_1)
            assert (await emulator.stats())["calls"]["oauth/token"] == 1
            clock.now += 1
            await client.active_supplier_structures(SUPPLIER_1)
        assert (await emulator.stats())["calls"]["oauth/token"] == 2
    finally:
        await emulator.aclose()


async def test_a_token_expired_on_the_server_is_refreshed_once_and_the_call_succeeds(
    in_process: InProcessEmulator,
) -> None:
    async with in_process.client() as client:
        await client.active_supplier_structures(SUPPLIER_1)
        response = await in_process.control.post("/_emulator/clock/advance", json={"seconds": 4000})
        response.raise_for_status()
        structures = await client.active_supplier_structures(SUPPLIER_1)
    assert [s.idStructureCPP for s in structures] == [SUPPLIER_1_ID]
    assert (await in_process.stats())["calls"]["oauth/token"] == 2


async def test_a_revoked_token_is_refreshed_once_and_the_call_succeeds(
    in_process: InProcessEmulator,
) -> None:
    async with in_process.client() as client:
        await client.active_supplier_structures(SUPPLIER_1)
        await in_process.faults({"endpoint": "*", "kind": "revoke_token", "next_n": 1})
        result = await client.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID))
    assert result.statutFacture == "DEPOSEE"
    stats = await in_process.stats()
    assert stats["calls"]["oauth/token"] == 2
    assert stats["calls"]["factures/v1/soumettre"] == 2


async def test_a_single_401_is_retried_after_one_refresh(in_process: InProcessEmulator) -> None:
    await in_process.faults({"endpoint": "factures/v1/soumettre", "kind": "http_401", "next_n": 1})
    async with in_process.client() as client:
        result = await client.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID))
    assert result.identifiantFactureCPP
    assert len((await in_process.invoices())["invoices"]) == 1


async def test_a_burst_of_401s_is_retried_with_fresh_tokens_until_it_passes(
    in_process: InProcessEmulator,
) -> None:
    """PISTE answers 401 to valid tokens when calls come fast: a burst is not a refusal."""
    await in_process.faults({"endpoint": "factures/v1/soumettre", "kind": "http_401", "next_n": 3})
    async with in_process.client(auth_retries=3, auth_retry_base_seconds=0.001) as client:
        result = await client.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID))
    assert result.identifiantFactureCPP
    stats = await in_process.stats()
    assert stats["calls"]["factures/v1/soumettre"] == 4
    assert stats["calls"]["oauth/token"] == 4


@pytest.mark.parametrize("kind", ["http_401", "http_403"])
async def test_a_persistent_denial_is_an_auth_error_after_the_retries(
    in_process: InProcessEmulator, kind: str
) -> None:
    await in_process.faults({"endpoint": "factures/v1/soumettre", "kind": kind})
    async with in_process.client(auth_retries=2, auth_retry_base_seconds=0.001) as client:
        with pytest.raises(ChorusAuthError):
            await client.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID))
    stats = await in_process.stats()
    assert stats["calls"]["factures/v1/soumettre"] == 3
    assert stats["calls"]["oauth/token"] == 3


async def test_auth_retries_back_off_after_a_first_immediate_refresh(
    in_process: InProcessEmulator,
) -> None:
    await in_process.faults({"endpoint": "factures/v1/soumettre", "kind": "http_401"})
    started = time.monotonic()
    async with in_process.client(auth_retries=3, auth_retry_base_seconds=0.1) as client:
        with pytest.raises(ChorusAuthError):
            await client.submit_invoice(SUPPLIER_1, saisie_invoice(SUPPLIER_1_ID))
    assert time.monotonic() - started >= 0.1 + 0.2


async def test_a_token_endpoint_answering_invalid_client_now_and_then_is_retried(
    in_process: InProcessEmulator,
) -> None:
    await in_process.faults(
        {"endpoint": "oauth/token", "kind": "token_invalid_client", "next_n": 2}
    )
    async with in_process.client(auth_retries=3, auth_retry_base_seconds=0.001) as client:
        assert await client.active_supplier_structures(SUPPLIER_1)
    assert (await in_process.stats())["calls"]["oauth/token"] == 3


async def test_a_wrong_technical_password_is_an_auth_error(in_process: InProcessEmulator) -> None:
    wrong = TechnicalAccount(login=SUPPLIER_1.login, password=SecretStr("not-the-password"))
    async with in_process.client() as client:
        with pytest.raises(ChorusAuthError) as caught:
            await client.active_supplier_structures(wrong)
    assert caught.value.status_code == 403
    assert "not-the-password" not in str(caught.value)
    assert "not-the-password" not in repr(caught.value)


async def test_a_changed_technical_password_locks_the_old_one_out(
    in_process: InProcessEmulator,
) -> None:
    async with in_process.client() as client:
        await client.active_supplier_structures(SUPPLIER_1)
        response = await in_process.control.post(
            f"/_emulator/accounts/{SUPPLIER_1.login}/password", json={"password": "rotated-pw"}
        )
        response.raise_for_status()
        with pytest.raises(ChorusAuthError):
            await client.active_supplier_structures(SUPPLIER_1)
        rotated = TechnicalAccount(login=SUPPLIER_1.login, password=SecretStr("rotated-pw"))
        assert await client.active_supplier_structures(rotated)


async def test_wrong_piste_credentials_are_a_token_error_without_the_secret(
    in_process: InProcessEmulator,
) -> None:
    async with in_process.client(
        client_secret="wrong-piste-secret", auth_retries=3, auth_retry_base_seconds=0.001
    ) as client:
        with pytest.raises(ChorusTokenError) as caught:
            await client.active_supplier_structures(SUPPLIER_1)
    assert caught.value.oauth_error == "invalid_client"
    assert "wrong-piste-secret" not in str(caught.value)
    assert "wrong-piste-secret" not in repr(caught.value)
    calls = (await in_process.stats())["calls"]
    assert calls.get("transverses/v1/recuperer/structures/actives/fournisseur", 0) == 0
    assert calls["oauth/token"] == 1 + 3  # asked again a few times before believing it


@pytest.mark.parametrize("refusal_http_status", [200, 400])
async def test_a_search_chorus_answers_with_code_20000_is_an_empty_list(
    refusal_http_status: int,
) -> None:
    emulator = InProcessEmulator(refusal_http_status=refusal_http_status)
    try:
        async with emulator.client() as client:
            invoices = await client.search_supplier_invoices(SUPPLIER_1, invoice_number="NONE")
            structures = await client.search_structures(SUPPLIER_1, "12345678200069")
            unknown = await client.find_structure_id(SUPPLIER_1, "12345678200069")
            services = await client.search_services(SUPPLIER_1, 26000003)
    finally:
        await emulator.aclose()
    assert (invoices, structures, unknown, services) == ([], [], None, [])


async def test_a_search_chorus_refuses_for_another_reason_is_still_a_refusal(
    in_process: InProcessEmulator,
) -> None:
    async with in_process.client() as client:
        with pytest.raises(ChorusRefusal) as raised:
            await client.search_services(SUPPLIER_1, 42)
    assert raised.value.code == 20092
