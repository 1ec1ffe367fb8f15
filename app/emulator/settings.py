"""The emulator's settings, read from `EMULATOR_*` variables and `.env`.

Several behaviours of the real Chorus Pro are not publicly documented (see
`/work/shared/design/chorus-pro.md`, facts marked [M]/[L] or "not confirmed"); each of them is a
setting here rather than a guess baked into the code. In particular the official list of business
error codes and labels is not public: the `code_*` defaults below are the values this project
agreed on, not official ones.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DIRECTORY_FILE = Path(__file__).parent / "data" / "directory.json"

# OCA18's list of extensions Chorus accepts for attachments, plus XSD and XSL (FE).
DEFAULT_ATTACHMENT_EXTENSIONS = (
    "BMP GIF FAX ODT PPT TIFF XLS BZ2 GZ JPEG P7S RTF TXT XML CSV GZIP JPG PDF SVG XHTML XLSX DOC "
    "HTM ODP PNG TGZ XLC ZIP DOCX HTML ODS PPS TIF XLM PPTX XSD XSL"
).split()


class EmulatorSettings(BaseSettings):
    """Everything the emulator reads at start-up; tests build their own instance."""

    model_config = SettingsConfigDict(
        env_prefix="EMULATOR_",
        env_file=".env",
        env_file_encoding="utf-8",
        # `EMULATOR_STATE_FILE=` (as .env.example lists it) means "no file", not the path "".
        env_ignore_empty=True,
        extra="ignore",
        populate_by_name=True,
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=1, le=65535)

    # PISTE side. The same variables as the gateway's, so one `.env` serves both processes.
    client_id: str = Field(
        default="gateway-dev",
        validation_alias=AliasChoices("CHORUS_CLIENT_ID", "EMULATOR_CLIENT_ID"),
    )
    client_secret: SecretStr = Field(
        default=SecretStr("gateway-dev-secret"),
        validation_alias=AliasChoices("CHORUS_CLIENT_SECRET", "EMULATOR_CLIENT_SECRET"),
    )
    token_expires_in: int = Field(default=3600, ge=1)

    # Where the directory and the state come from.
    directory_file: Path | None = None
    state_file: Path | None = None
    # Technical accounts seeded without an explicit expiry get this many days from start-up.
    password_validity_days: int = Field(default=365, ge=1)

    # Lifecycle after `soumettre` (the transition table is inferred, not official).
    lifecycle_mode: Literal["auto", "manual"] = "auto"
    lifecycle_step_seconds: float = Field(default=5.0, gt=0)
    rejected_share: float = Field(default=0.0, ge=0, le=1)
    suspended_share: float = Field(default=0.0, ge=0, le=1)
    rejection_reason: str = "Facture rejetée par le service destinataire : engagement non conforme"
    suspension_reason: str = "Facture suspendue : pièce justificative manquante"

    # How answers look. Real clients see business refusals both on HTTP 200 and on HTTP 400.
    refusal_http_status: Literal[200, 400] = 200
    success_libelle: str = "TRA_MSG_00.000"
    submit_success_libelle: str = "GCU_MSG_01_000"
    # Service validity and history dates are "YYYY-MM-DD HH:MM" in the clients we read [M].
    datetime_format: str = "%Y-%m-%d %H:%M"
    timezone: str = "Europe/Paris"
    # Chorus's ordering of `histoStatut` is not documented.
    history_newest_first: bool = False
    # Statuses per page of consulter/historique when `paramRechercheHistoStatuts` asks for pages,
    # and the most one page holds whatever is asked (Chorus's own limits are not documented):
    # small, so a client must read every page. A request without it gets the whole history.
    history_page_size: int = Field(default=3, ge=1)
    # Peers saw a search that finds nothing answer `codeRetour` 20000 on HTTP 200 instead of an
    # empty list; on by default, the harder side for clients.
    empty_search_not_found: bool = True
    # Whether health-check also wants `cpro-account` (PISTE always wants the bearer token).
    health_check_requires_account: bool = True

    # Strictness. Qualification does not enforce Luhn on its own test structures.
    check_luhn: bool = True
    # Not a Chorus fact: refusing unknown JSON fields catches misspelt names in the client.
    reject_unknown_fields: bool = True
    # MFP's sandbox run suggests Chorus numbers an invoice sent without `numeroFactureSaisi` [L].
    auto_number_invoices: bool = True
    # Who numbers a SAISIE_API invoice. The same run returned a Chorus number (20 digits) for an
    # invoice its sender had numbered [L]: `chorus`, the pessimistic side, replaces the sender's
    # number and so cannot refuse a resent invoice as a duplicate; `sender` keeps it.
    # DEPOT_PDF_API and deposer/flux always keep the sender's number.
    saisie_numbering: Literal["chorus", "sender"] = "chorus"
    # Largest accepted gap between the sum of line amounts and `montantHtTotal` (per-line rounding).
    line_sum_tolerance: Decimal = Field(default=Decimal("0.01"), ge=0)
    # "10 Mo": whether Chorus means 10 * 10^6 or 10 * 2^20 bytes is not documented.
    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    attachment_name_max_length: int = Field(default=50, ge=1)
    # "120 Mo" for an invoice with all its attachments (principal and complementary, or a flux
    # document's BG-24 and embedded files); the same 2^20 reading as the per-file limit.
    attachments_total_max_bytes: int = Field(default=120 * 1024 * 1024, ge=1)
    # Comma-separated in the environment, like the gateway's lists.
    attachment_extensions: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_ATTACHMENT_EXTENSIONS)
    )

    # The flux channel (deposer/flux). Chorus processes a flux asynchronously; how long it takes is
    # not documented, so the delay is a setting: IN_RECU, IN_EN_COURS_TRAITEMENT_CPP at half of it,
    # the final state once it has passed. The largest accepted file is not confirmed either [L]:
    # 120 Mo is Chorus's ceiling for an invoice with all its attachments.
    flux_processing_seconds: float = Field(default=2.0, gt=0)
    flux_max_bytes: int = Field(default=120 * 1024 * 1024, ge=1)
    # Invoices in one `.tar.gz` flux; Chorus's limit is not documented.
    flux_max_invoices: int = Field(default=100, ge=1)

    # Business error codes (`codeRetour`). Official codes are not public; these are agreed defaults.
    code_duplicate_invoice: int = 20300
    code_recipient_unknown: int = 20301
    code_service_invalid: int = 20302
    code_ej_missing: int = 20303
    code_service_missing: int = 20304
    code_amounts_inconsistent: int = 20305
    code_content_missing: int = 20306
    code_supplier_not_caller: int = 20307
    code_credit_note_without_origin: int = 20308
    code_attachment_too_large: int = 20003
    code_invoice_not_found: int = 20000
    code_search_empty: int = 20000
    # `soumettre` takes only A1, A2, A9 and A12 (peers); A9/A12 name a validator structure.
    code_framework_invalid: int = 20309
    code_validator_missing: int = 20310
    # Invented, no source at all: bad attachment name, unknown structure, malformed request.
    code_attachment_name_invalid: int = 20091
    code_structure_not_found: int = 20092
    code_malformed_request: int = 20099
    # Invented too: attachments over the total, DEPOT_PDF_SIGNE_API with a file carrying no PDF
    # signature, and an attachment named twice (or the principal one as complementary).
    code_attachments_total_too_large: int = 20093
    code_pdf_not_signed: int = 20094
    code_attachment_reused: int = 20095
    # deposer/flux: 20001 for an oversize flux is from a synthetic fixture [L]; the others and
    # the unknown-flux code of consulterCR are invented.
    code_flux_too_large: int = 20001
    code_flux_unreadable: int = 20311
    code_flux_syntax_mismatch: int = 20312
    code_flux_not_found: int = 20313

    @field_validator("refusal_http_status", mode="before")
    @classmethod
    def _status_from_text(cls, value: object) -> object:
        # Environment variables arrive as text, which a Literal of ints would refuse.
        return int(value) if isinstance(value, str) and value.strip().isdigit() else value

    @field_validator("attachment_extensions", mode="before")
    @classmethod
    def _split_extensions(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _shares_fit(self) -> EmulatorSettings:
        if self.rejected_share + self.suspended_share > 1:
            raise ValueError("rejected_share + suspended_share cannot exceed 1")
        return self

    @property
    def resolved_directory_file(self) -> Path:
        """The directory seed file given, or the packaged one."""
        return self.directory_file or DEFAULT_DIRECTORY_FILE
