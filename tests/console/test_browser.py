"""The console in a real browser: Debian's Chromium driven by Playwright, against a served gateway,
an in-process worker and the Chorus Pro emulator (manual lifecycle, moved through its control API).

One browser and one stack for the module; the tests run in file order and share the signed-in page.
Screenshots of the main pages land in $CONSOLE_SCREENSHOTS, else in the temporary directory's
console-screenshots/; `CONSOLE_SCREENSHOTS=docs/console` refreshes the ones the README shows.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from app.auth.scopes import Scope
from app.auth.service import create_client
from app.db.migrations import upgrade_to_head
from app.emulator.main import create_emulator_app
from app.emulator.settings import EmulatorSettings
from app.main import create_app
from app.resources import open_resources
from app.settings import ApiSettings, DatabaseSettings, OutboxSettings, Settings
from app.worker import build_worker
from tests.builders import SUPPLIER_SIRET, invoice_payload
from tests.conftest import emulator_chorus_settings
from tests.support.gateway import register_demo_suppliers
from tests.support.servers import serve_app

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "Debian's chromium is not installed (/usr/bin/chromium): `apt-get install chromium`; "
        "CI installs it in .ci/run",
        allow_module_level=True,
    )
playwright_api = pytest.importorskip("playwright.async_api")
Page = playwright_api.Page
expect = playwright_api.expect

SCREENSHOTS = Path(
    os.environ.get("CONSOLE_SCREENSHOTS") or Path(tempfile.gettempdir()) / "console-screenshots"
)
# Every wait is bounded: the worker polls every 20 ms, Chorus's flux takes 0.2 s, htmx refreshes
# the invoice page every 3 s and the lists every 5 s.
WAIT_MS = 15_000


@dataclass
class Stack:
    """The served gateway, the emulator, and an operator's API key."""

    api_url: str
    emulator_url: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        """The operator's Authorization header."""
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture(scope="module")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, str]]:
    """A migrated SQLite database, the emulator served, and settings for the gateway and worker."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('console') / 'gateway.db'}"
    upgrade_to_head(url)
    config = EmulatorSettings(lifecycle_mode="manual", flux_processing_seconds=0.2)
    with serve_app(create_emulator_app(config)) as emulator_url:
        settings = Settings(
            database=DatabaseSettings(url=url),
            api=ApiSettings(online_validation=False),
            chorus=emulator_chorus_settings(
                emulator_url,
                read_timeout_seconds=2,
                flux_poll_first_seconds=0.1,
                flux_poll_max_seconds=0.3,
            ),
            outbox=OutboxSettings(
                poll_interval_seconds=0.02,
                retry_base_seconds=0.05,
                retry_cap_seconds=0.1,
                retry_max_attempts=2,
                sync_first_delay_seconds=0.1,
                sync_max_delay_seconds=0.3,
                heartbeat_seconds=0.5,
            ),
        )
        yield settings, emulator_url


@pytest_asyncio.fixture(scope="module")
async def stack(stack_settings: tuple[Settings, str]) -> AsyncIterator[Stack]:
    """Suppliers registered, an operator key, the gateway served and a worker running."""
    settings, emulator_url = stack_settings
    async with open_resources(settings) as resources:
        async with resources.sessionmaker() as session, session.begin():
            await register_demo_suppliers(session, resources.password_box)
            _, key = await create_client(
                session, name="console-operator", scopes=[Scope.OPERATOR], supplier_sirets=[]
            )
        stop = asyncio.Event()
        worker = asyncio.create_task(build_worker(resources, "browser-worker").run(stop))
        with ExitStack() as served:
            api_url = served.enter_context(serve_app(create_app(settings)))
            try:
                yield Stack(api_url, emulator_url, key)
            finally:
                stop.set()
                await worker


@pytest_asyncio.fixture(scope="module")
async def page(stack: Stack) -> AsyncIterator[Any]:
    """One Chromium for the module, one page, French locale."""
    async with playwright_api.async_playwright() as playwright:
        # Root in CI: Chromium's sandbox needs an unprivileged user.
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        context = await browser.new_context(
            base_url=stack.api_url, locale="fr-FR", viewport={"width": 1366, "height": 900}
        )
        context.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)
        page = await context.new_page()
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.errors = errors
        # Confirmations (retry, revoke) are accepted as an operator would.
        page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        try:
            yield page
        finally:
            await context.close()
            await browser.close()


async def _shot(page: Any, name: str) -> None:
    await asyncio.to_thread(SCREENSHOTS.mkdir, parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def _post(stack: Stack, **overrides: object) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.api_url, headers=stack.headers) as api:
        response = await api.post("/v1/invoices", json=invoice_payload(**overrides))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _invoice(stack: Stack, invoice_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.api_url, headers=stack.headers) as api:
        body: dict[str, Any] = (await api.get(f"/v1/invoices/{invoice_id}")).json()
    return body


async def _until_submitted(stack: Stack, invoice_id: str) -> int:
    """Chorus's id of the invoice, once the worker delivered it (bounded wait)."""
    for _ in range(300):
        chorus = (await _invoice(stack, invoice_id))["chorus"]
        if chorus["invoice_id"] is not None:
            return int(chorus["invoice_id"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"{invoice_id} was not delivered")


async def _buyer_moves(
    stack: Stack, chorus_id: int, status: str, reason: str | None = None
) -> None:
    body = {"statut": status, "motif": reason} if reason else {"statut": status}
    async with httpx.AsyncClient(base_url=stack.emulator_url) as control:
        response = await control.post(f"/_emulator/invoices/{chorus_id}/status", json=body)
    assert response.status_code == 200, response.text


def _number() -> str:
    return f"F-UI-{uuid.uuid4().hex[:8].upper()}"


async def test_signing_in_opens_the_dashboard(page: Any, stack: Stack) -> None:
    await page.goto("/console")
    await expect(page).to_have_url(re.compile(r"/console/connexion\?next=/console$"))
    await expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    await page.get_by_label("Clé d'API").fill(stack.key)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Tableau de bord")).to_be_visible()
    assert stack.key not in page.url
    await expect(page.get_by_text("console-operator")).to_be_visible()


async def test_a_posted_invoice_appears_then_is_deposited_then_paid(
    page: Any, stack: Stack
) -> None:
    await page.goto("/console/factures")
    number = _number()
    created = await _post(stack, invoice_number=number)
    # No reload: the list refreshes itself.
    link = page.get_by_role("link", name=number)
    await expect(link).to_be_visible()
    await link.click()
    await expect(page.get_by_role("heading", name=f"Facture {number}")).to_be_visible()
    chorus_status = page.get_by_test_id("chorus-status")
    await expect(chorus_status).to_contain_text("Déposée")
    chorus_id = await _until_submitted(stack, created["id"])
    await _shot(page, "facture")
    await _buyer_moves(stack, chorus_id, "MISE_EN_PAIEMENT")
    await expect(chorus_status).to_contain_text("Mise en paiement")
    await expect(page.get_by_test_id("status")).to_have_text("Payée")
    await page.get_by_role("button", name="Copier l'identifiant").click()
    await expect(page.get_by_text("Copié")).to_be_visible()


async def test_a_buyer_rejection_shows_its_reason(page: Any, stack: Stack) -> None:
    created = await _post(stack, invoice_number=_number())
    chorus_id = await _until_submitted(stack, created["id"])
    await page.goto(f"/console/factures/{created['id']}")
    await expect(page.get_by_test_id("chorus-status")).to_contain_text("Déposée")
    await _buyer_moves(stack, chorus_id, "REJETEE", "EJ clos")
    await expect(page.get_by_test_id("rejection")).to_contain_text("EJ clos")
    await expect(page.get_by_test_id("status")).to_have_text("Rejetée")


async def test_a_failed_invoice_is_retried_from_its_page(page: Any, stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.emulator_url) as control:
        await control.put(
            "/_emulator/faults",
            json={"rules": [{"endpoint": "factures/v1/deposer/flux", "kind": "http_503"}]},
        )
        try:
            created = await _post(stack, invoice_number=_number())
            await page.goto(f"/console/factures/{created['id']}")
            await expect(page.get_by_test_id("status")).to_have_text("En échec")
        finally:
            await control.delete("/_emulator/faults")
    await page.get_by_role("button", name="Relancer la facture").click()
    await expect(page.get_by_text("Facture remise en file")).to_be_visible()
    await expect(page.get_by_test_id("chorus-status")).to_contain_text("Déposée")
    await expect(page.get_by_test_id("status")).to_have_text("Transmise")


async def test_a_structure_is_registered(page: Any) -> None:
    await page.goto("/console/structures")
    await page.get_by_label("SIRET", exact=True).fill("73282932000074")
    await page.get_by_label("Login du compte technique").fill("TECH_1_73282932000074@cpro.fr")
    await page.get_by_label("Mot de passe", exact=True).fill("mot-de-passe-1")
    await page.get_by_label("Adresse", exact=True).fill("3 place de la Mairie")
    await page.get_by_label("Code postal").fill("13001")
    await page.get_by_label("Ville").fill("Marseille")
    await page.get_by_role("button", name="Enregistrer").click()
    await expect(page.get_by_text("Structure 73282932000074 enregistrée.")).to_be_visible()
    await expect(page.locator("#structure-73282932000074")).to_contain_text("Active")
    await _shot(page, "structures")


async def test_an_api_key_is_created_then_revoked(page: Any, stack: Stack) -> None:
    await page.goto("/console/clients")
    await page.get_by_label("Nom").fill("erp-navigateur")
    await page.get_by_label("SIRET fournisseurs").fill(SUPPLIER_SIRET)
    await page.get_by_role("button", name="Créer").click()
    new_key = (await page.get_by_test_id("new-key").text_content() or "").strip()
    assert new_key.startswith("cpg_")
    async with httpx.AsyncClient(base_url=stack.api_url) as api:
        bearer = {"Authorization": f"Bearer {new_key}"}
        assert (await api.get("/v1/invoices", headers=bearer)).status_code == 200
        row = page.locator("#client-erp-navigateur")
        await row.get_by_role("button", name="Révoquer").click()
        await expect(page.locator("#client-erp-navigateur")).to_contain_text("Révoquée")
        await _shot(page, "clients")
        assert (await api.get("/v1/invoices", headers=bearer)).status_code == 401


async def test_screens_of_the_list_and_the_dashboard(page: Any) -> None:
    await page.goto("/console/factures")
    await expect(page.get_by_role("link", name="Factures", exact=True)).to_be_visible()
    await _shot(page, "factures")
    await page.goto("/console/webhooks")
    await expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
    await _shot(page, "webhooks")
    await page.goto("/console")
    await expect(page.get_by_text("actif", exact=True).first).to_be_visible()
    await expect(page.locator("svg.chart rect.delivered").first).to_be_attached()
    await _shot(page, "tableau-de-bord")


async def test_the_keyboard_reaches_the_content_and_the_list_keeps_focus(page: Any) -> None:
    await page.goto("/console/factures")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Aller au contenu")).to_be_focused()
    first = page.locator("#invoice-rows a").first
    await first.focus()
    # The list's next refresh is called off while the focus is in it.
    skipped = await page.evaluate(
        """() => new Promise(resolve => document.addEventListener(
            "htmx:beforeRequest", event => resolve(event.defaultPrevented), {once: true}))"""
    )
    assert skipped is True
    await expect(first).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name=re.compile("^Facture F-UI-"))).to_be_visible()


async def test_no_page_raised_a_script_error_or_broke_its_policy(page: Any) -> None:
    assert page.errors == []
