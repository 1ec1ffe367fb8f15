"""The gateway's one settings object, read from the environment and `.env`.

Each group reads the variables with its own prefix (`DATABASE_URL`, `CHORUS_TARGET`, ...), so the
names in `.env.example` and `product.md` stay flat while the code sees nested, typed groups.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.domain.identifiers import STATE_SIRET
from app.domain.lifecycle import FINAL_CODES
from app.invoices.channels import DEFAULT_CHANNEL, Channel

SANDBOX_OAUTH_URL = "https://sandbox-oauth.piste.gouv.fr/api/oauth/token"
SANDBOX_API_URL = "https://sandbox-api.piste.gouv.fr"
PRODUCTION_OAUTH_URL = "https://oauth.piste.gouv.fr/api/oauth/token"
PRODUCTION_API_URL = "https://api.piste.gouv.fr"
EMULATOR_OAUTH_URL = "http://127.0.0.1:8090/api/oauth/token"
EMULATOR_API_URL = "http://127.0.0.1:8090"

# The emulator accepts these too, so one `.env` serves both sides in development.
DEV_CLIENT_ID = "gateway-dev"
DEV_CLIENT_SECRET = "gateway-dev-secret"  # noqa: S105 - a public development default, not a secret


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _group(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix,
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        secrets_dir=None,
    )


CsvList = Annotated[list[str], NoDecode]
CsvDecimals = Annotated[list[Decimal], NoDecode]


class DatabaseSettings(BaseSettings):
    """Where invoices live. SQLite by default; PostgreSQL for several processes."""

    model_config = _group("DATABASE_")

    url: str = "sqlite+aiosqlite:///./gateway.db"
    pool_size: int = Field(default=10, ge=1)
    pool_pre_ping: bool = False
    echo: bool = False
    migrate_on_start: bool = True


class ApiSettings(BaseSettings):
    """The REST facade: limits and the rules the gateway enforces on incoming invoices."""

    model_config = _group("API_")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_pdf_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Supporting documents: Chorus's limits (10 Mo each, 120 Mo with the invoice PDF).
    max_attachment_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_attachments_total_bytes: int = Field(default=120 * 1024 * 1024, ge=1024)
    max_attachments: int = Field(default=20, ge=0, le=100)
    # Refuse signed PDFs whose certificate does not chain to a trusted root (else only reported).
    require_trusted_signature: bool = False
    allowed_buyer_sirets: CsvList = Field(default_factory=lambda: [STATE_SIRET])
    allowed_currencies: CsvList = Field(default_factory=lambda: ["EUR"])
    allowed_vat_rates: CsvDecimals = Field(
        default_factory=lambda: [
            Decimal(rate)
            for rate in ("0", "0.9", "1.05", "1.75", "2.1", "5.5", "8.5", "10", "13", "20")
        ]
    )
    max_lines: int = Field(default=1000, ge=1)
    # POST /v1/invoices/batch only: a 500-invoice batch is well over API_MAX_BODY_BYTES.
    max_batch_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_batch_items: int = Field(default=500, ge=1)
    # The State's EJ is 10 digits in practice; a setting lets an operator widen it if Chorus does.
    state_ej_pattern: str = r"^[0-9]{10}$"
    max_future_issue_days: int = Field(default=1, ge=0)
    idempotency_ttl_hours: int = Field(default=24, ge=24)
    default_page_size: int = Field(default=50, ge=1, le=500)
    # Recognized API keys are remembered this long per process (0: ask the database every time).
    auth_cache_seconds: float = Field(default=5.0, ge=0)
    # Registered supplier structures are remembered this long per process (0: read every time).
    supplier_cache_seconds: float = Field(default=5.0, ge=0)
    # Ask Chorus Pro's directory (buyer flags, active services) while validating; offline when
    # it does not answer within the timeout, and for a while after that.
    online_validation: bool = True
    online_validation_timeout_seconds: float = Field(default=2.0, gt=0)
    online_validation_retry_seconds: float = Field(default=30.0, ge=0)

    @field_validator(
        "allowed_buyer_sirets", "allowed_currencies", "allowed_vat_rates", mode="before"
    )
    @classmethod
    def _read_comma_separated(cls, value: object) -> object:
        return _split_csv(value)


class ChorusSettings(BaseSettings):
    """How the gateway reaches Chorus Pro: the emulator, the PISTE sandbox or production."""

    model_config = _group("CHORUS_")

    target: Literal["emulator", "sandbox", "production"] = "emulator"
    token_url: str | None = None
    api_url: str | None = None
    client_id: str = DEV_CLIENT_ID
    client_secret: SecretStr = SecretStr(DEV_CLIENT_SECRET)
    # Docker/Kubernetes-style secret file; wins over CHORUS_CLIENT_SECRET when set.
    client_secret_file: Path | None = None
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    read_timeout_seconds: float = Field(default=30.0, gt=0)
    # Refresh the PISTE token this long before it expires (peer clients use 30 s to 4 min).
    token_refresh_margin_seconds: int = Field(default=120, ge=0)
    # PISTE publishes no quota; a token bucket per credential keeps a backlog from flooding it.
    # It is per process: with N workers, set it to the total rate divided by N.
    rate_per_second: float = Field(default=20.0, gt=0)
    rate_burst: int = Field(default=20, ge=1)
    # PISTE answers 401 to valid tokens when calls come fast, and its token endpoint sometimes
    # `invalid_client` to valid credentials: ask again this many times, with a fresh token and a
    # doubling pause from the base, before believing a refusal (and pausing a structure).
    auth_retries: int = Field(default=3, ge=0, le=10)
    auth_retry_base_seconds: float = Field(default=0.5, ge=0, le=30)
    # Fernet keys (urlsafe base64, 32 bytes), comma-separated, newest first, that encrypt
    # technical-account passwords at rest; older keys still decrypt, so keys can be rotated.
    secrets_key: SecretStr | None = None
    # A file holding those keys. With neither set, the emulator target generates one here.
    secrets_key_file: Path | None = None
    directory_cache_seconds: int = Field(default=3600, ge=0)
    # Buyers (and structure ids) the directory cache holds at most, least recently used dropped.
    directory_cache_size: int = Field(default=5000, ge=1)
    # How invoices go to Chorus (README "Delivery channels"): cii, ubl, facturx (used for any
    # invoice that came with a PDF unless pdf/saisie is chosen), pdf or saisie. A structure can
    # override it.
    delivery_format: Channel = DEFAULT_CHANNEL
    # A deposited flux's report is read after this delay, then at doubling intervals up to the
    # maximum; a flux still not final after `flux_max_wait_hours` fails for an operator to see.
    flux_poll_first_seconds: float = Field(default=5.0, gt=0)
    flux_poll_max_seconds: float = Field(default=600.0, gt=0)
    flux_max_wait_hours: float = Field(default=48.0, gt=0)
    # Share of the fluxes the gateway writes itself that also run the EN 16931 schematron before
    # the deposit (~16 ms of CPU per CII, ~7 ms per UBL); the XSD checks every one, and the first
    # of each syntax in a process always gets the schematron. Submission already applies the
    # rules a corpus test proves enough for the schematron, so this watches the writers rather
    # than gating each invoice: 1 checks every flux (README "Delivery channels").
    flux_schematron_share: float = Field(default=0.02, ge=0, le=1)
    # Whether Chorus keeps the sender's number in SAISIE_API (chorus-pro.md says it numbers the
    # invoice itself, [L]; `gateway qualify` can settle it). Only when it does can a search by
    # number prove that an uncertain SAISIE_API attempt did not land; otherwise such an invoice
    # fails with AMBIGUOUS_DELIVERY rather than risk a second one.
    saisie_keeps_number: bool = False
    # The codeRetour values that mean "this invoice number is already in Chorus" (the worker
    # then finds and adopts it) and "the search found nothing"; `gateway qualify` reads them.
    duplicate_codes: CsvList = Field(default_factory=lambda: ["20300"])
    no_result_codes: CsvList = Field(default_factory=lambda: ["20000"])

    @field_validator("duplicate_codes", "no_result_codes", mode="before")
    @classmethod
    def _read_codes(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("duplicate_codes", "no_result_codes")
    @classmethod
    def _codes_are_integers(cls, value: list[str]) -> list[str]:
        for code in value:
            if not code.strip().lstrip("-").isdigit():
                raise ValueError(f"{code!r} is not a codeRetour (an integer)")
        return [code.strip() for code in value]

    @property
    def duplicate_code_set(self) -> frozenset[int]:
        """`duplicate_codes` as the client compares them."""
        return frozenset(int(code) for code in self.duplicate_codes)

    @property
    def no_result_code_set(self) -> frozenset[int]:
        """`no_result_codes` as the client compares them."""
        return frozenset(int(code) for code in self.no_result_codes)

    @property
    def resolved_token_url(self) -> str:
        """The token URL given, or the target's default."""
        defaults = {
            "emulator": EMULATOR_OAUTH_URL,
            "sandbox": SANDBOX_OAUTH_URL,
            "production": PRODUCTION_OAUTH_URL,
        }
        return self.token_url or defaults[self.target]

    @property
    def resolved_api_url(self) -> str:
        """The API base URL given, or the target's default."""
        defaults = {
            "emulator": EMULATOR_API_URL,
            "sandbox": SANDBOX_API_URL,
            "production": PRODUCTION_API_URL,
        }
        return self.api_url or defaults[self.target]

    @model_validator(mode="after")
    def _read_secret_files(self) -> ChorusSettings:
        if self.client_secret_file is not None:
            secret = self.client_secret_file.read_text(encoding="utf-8").strip()
            self.client_secret = SecretStr(secret)
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_targets(self) -> ChorusSettings:
        if self.target == "production":
            if self.client_id == DEV_CLIENT_ID or (
                self.client_secret.get_secret_value() == DEV_CLIENT_SECRET
            ):
                raise ValueError(
                    "CHORUS_TARGET=production needs CHORUS_CLIENT_ID and CHORUS_CLIENT_SECRET"
                )
            if "sandbox" in self.resolved_api_url or "sandbox" in self.resolved_token_url:
                raise ValueError("CHORUS_TARGET=production cannot use a sandbox URL")
        production_hosts = ("//oauth.piste.gouv.fr", "//api.piste.gouv.fr")
        token_is_production = any(h in self.resolved_token_url for h in production_hosts)
        api_is_production = any(h in self.resolved_api_url for h in production_hosts)
        if token_is_production != api_is_production:
            raise ValueError("CHORUS_TOKEN_URL and CHORUS_API_URL point at different environments")
        return self


class OutboxSettings(BaseSettings):
    """The worker: how it claims outbox items, retries them, and polls Chorus for statuses."""

    model_config = _group("OUTBOX_")

    poll_interval_seconds: float = Field(default=0.5, gt=0)
    batch_size: int = Field(default=16, ge=1, le=500)
    # Renewed every third of its length while the item is handled, so it only expires when its
    # worker died or lost the database; short leases hand a dead worker's items over sooner.
    lease_seconds: float = Field(default=30.0, gt=0)
    retry_base_seconds: float = Field(default=2.0, gt=0)
    retry_cap_seconds: float = Field(default=900.0, gt=0)
    retry_max_attempts: int = Field(default=12, ge=1)
    retry_max_age_hours: float = Field(default=24.0, gt=0)
    # How long deliveries of a structure wait when its technical account is refused or missing.
    paused_recheck_seconds: float = Field(default=60.0, gt=0)
    sync_first_delay_seconds: float = Field(default=60.0, gt=0)
    sync_max_delay_seconds: float = Field(default=6 * 3600.0, gt=0)
    sync_max_age_days: float = Field(default=120.0, gt=0)
    # Chorus statuses after which nothing more is expected.
    sync_final_statuses: CsvList = Field(
        default_factory=lambda: [code.value for code in FINAL_CODES]
    )
    heartbeat_seconds: float = Field(default=10.0, gt=0)
    # The worker's own /metrics (deliveries, Chorus calls); off unless a port is given.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"

    @field_validator("sync_final_statuses", mode="before")
    @classmethod
    def _read_comma_separated(cls, value: object) -> object:
        return _split_csv(value)


class WebhookSettings(BaseSettings):
    """Webhook deliveries: a total deadline, their own concurrency, and where they may go."""

    model_config = _group("WEBHOOK_")

    # One delivery's whole time (connect, send, answer): a receiver that trickles is cut off.
    timeout_seconds: float = Field(default=10.0, gt=0)
    # Webhook deliveries in hand per worker, apart from invoice work, which they never delay.
    concurrency: int = Field(default=8, ge=1, le=500)
    # At most this much of a receiver's answer is read; the rest is discarded unread.
    max_response_bytes: int = Field(default=4096, ge=0)
    # Development only: let webhooks reach loopback and private addresses (refused by default).
    allow_private_targets: bool = False


class MetricsSettings(BaseSettings):
    """Who may scrape `/metrics` (the API's and the worker's metrics port)."""

    model_config = _group("METRICS_")

    # When set, scrapes must send `Authorization: Bearer <token>`; unset, metrics are open.
    token: SecretStr | None = None


class ConsoleSettings(BaseSettings):
    """The operator console at /console: its session cookie."""

    model_config = _group("CONSOLE_")

    # Signs session cookies. Unset: a random secret per process, so sessions end at a restart
    # and are not shared between `serve --workers N` processes (set it for those).
    session_secret: SecretStr | None = None
    session_hours: float = Field(default=8.0, gt=0, le=24 * 30)
    # Send the cookie only over HTTPS (set it behind TLS; plain HTTP on loopback needs it off).
    cookie_secure: bool = False


class LogSettings(BaseSettings):
    """Logging: structured JSON lines by default."""

    model_config = _group("LOG_")

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "console"] = "json"


class Settings(BaseSettings):
    """Everything the gateway reads at start-up, grouped by concern."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    chorus: ChorusSettings = Field(default_factory=ChorusSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once; tests build their own `Settings` instead."""
    return Settings()
