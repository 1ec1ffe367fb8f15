"""The business rules Chorus applies on `soumettre` and `ajouter/fichier`, as pure functions.

Each rule yields a `Refusal` with the configured `codeRetour`. The official code list and labels
are not public: the codes are settings (see `settings.py`) and the labels are readable French texts
written for the emulator, not Chorus's own wording. Chorus answers one refusal per call; these
functions return every violation, in the order the emulator reports them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from app.emulator.directory import ServiceSpec, StructureSpec
from app.emulator.factures.schemas import SoumettreFactureIn
from app.emulator.settings import EmulatorSettings

CENT = Decimal("0.01")
RESERVED_SERVICE = "FACTURES_PUBLIQUES"
# The frameworks peers send through `soumettre` (chorus-pro.md §5.1); the others are for works
# contracts and validation circuits that a supplier's API deposit does not open.
SUBMITTABLE_FRAMEWORKS = frozenset(
    {
        "A1_FACTURE_FOURNISSEUR",
        "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE",
        "A9_FACTURE_SOUSTRAITANT",
        "A12_FACTURE_COTRAITANT",
    }
)
# A subcontractor's or co-contractor's invoice goes first to the structure that validates it.
FRAMEWORKS_WITH_VALIDATOR = frozenset({"A9_FACTURE_SOUSTRAITANT", "A12_FACTURE_COTRAITANT"})
LA_POSTE_SIREN = "356000000"


@dataclass(frozen=True)
class Refusal:
    """A business refusal: what goes in `codeRetour` and `libelle`."""

    code: int
    libelle: str


@dataclass(frozen=True)
class UploadedFile:
    """What the rules know of an attachment: from ajouter/fichier, or embedded in a document."""

    name: str
    extension: str
    size: int
    signed_pdf: bool = False


@dataclass(frozen=True)
class SubmissionContext:
    """What the rules need to know beyond the invoice itself."""

    caller_structure_ids: frozenset[int]
    recipient: StructureSpec | None
    duplicate: bool
    # The files the caller uploaded, by `pieceJointeId`: the only ones its invoices may name.
    uploads: Mapping[int, UploadedFile] = field(default_factory=dict)


def siret_is_valid(siret: str) -> bool:
    """The INSEE check: 14 digits passing Luhn, or La Poste's digit sum multiple of 5."""
    if len(siret) != 14 or not siret.isdigit():
        return False
    if siret.startswith(LA_POSTE_SIREN) and siret != "35600000000048":
        return sum(int(digit) for digit in siret) % 5 == 0
    return _luhn(siret)


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _blank_to_none(value: str | None) -> str | None:
    # Clients send "" as often as null for "no service" or "no EJ".
    return value.strip() or None if value is not None else None


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def check_submission(
    invoice: SoumettreFactureIn, context: SubmissionContext, settings: EmulatorSettings
) -> list[Refusal]:
    """Every reason Chorus would refuse this invoice, most fundamental first."""
    refusals: list[Refusal] = []
    if invoice.fournisseur.idFournisseur not in context.caller_structure_ids:
        refusals.append(
            Refusal(
                settings.code_supplier_not_caller,
                "Le fournisseur indiqué (idFournisseur) n'est pas une structure du compte "
                "technique appelant.",
            )
        )
    refusals += _recipient_refusals(invoice, context.recipient, settings)
    refusals += _framework_refusals(invoice, settings)
    if invoice.references.typeFacture == "AVOIR" and not _blank_to_none(
        invoice.references.numeroFactureOrigine
    ):
        refusals.append(
            Refusal(
                settings.code_credit_note_without_origin,
                "Un avoir doit indiquer la facture d'origine (numeroFactureOrigine).",
            )
        )
    refusals += _content_refusals(invoice, context.uploads, settings)
    refusals += _amount_refusals(invoice, settings)
    if context.duplicate:
        refusals.append(
            Refusal(
                settings.code_duplicate_invoice,
                f"Le numéro de facture {invoice.numeroFactureSaisi} existe déjà pour ce "
                "fournisseur.",
            )
        )
    return refusals


def _recipient_refusals(
    invoice: SoumettreFactureIn, recipient: StructureSpec | None, settings: EmulatorSettings
) -> list[Refusal]:
    code = invoice.destinataire.codeDestinataire
    if settings.check_luhn and code.isdigit() and not siret_is_valid(code):
        return [
            Refusal(settings.code_recipient_unknown, f"Le SIRET destinataire {code} est invalide.")
        ]
    if recipient is None or not recipient.is_recipient:
        return [Refusal(settings.code_recipient_unknown, f"Le destinataire {code} est inconnu.")]
    if not recipient.active:
        return [
            Refusal(settings.code_recipient_unknown, f"Le destinataire {code} n'est pas actif.")
        ]
    service_code = _blank_to_none(invoice.destinataire.codeServiceExecutant)
    service = recipient.service_by_code(service_code) if service_code else None
    refusals: list[Refusal] = []
    if service_code is not None:
        problem = _service_problem(service_code, service)
        if problem:
            refusals.append(Refusal(settings.code_service_invalid, problem))
    elif recipient.service_required:
        refusals.append(
            Refusal(
                settings.code_service_missing,
                f"Le code service est obligatoire pour le destinataire {code}.",
            )
        )
    ej = _blank_to_none(invoice.references.numeroBonCommande)
    ej_needed = (
        recipient.ej_required
        or (service is not None and service.ej_required)
        or (recipient.ej_or_service_required and service_code is None)
    )
    if ej is None and ej_needed:
        refusals.append(
            Refusal(
                settings.code_ej_missing,
                "Le numéro d'engagement juridique (numeroBonCommande) est obligatoire pour ce "
                "destinataire ou ce service.",
            )
        )
    return refusals


def _framework_refusals(invoice: SoumettreFactureIn, settings: EmulatorSettings) -> list[Refusal]:
    framework = invoice.cadreDeFacturation
    code = framework.codeCadreFacturation
    if code not in SUBMITTABLE_FRAMEWORKS:
        return [
            Refusal(
                settings.code_framework_invalid,
                f"Le cadre de facturation {code} n'est pas autorisé pour ce mode de dépôt.",
            )
        ]
    if code in FRAMEWORKS_WITH_VALIDATOR and not _blank_to_none(framework.codeStructureValideur):
        return [
            Refusal(
                settings.code_validator_missing,
                f"Le cadre de facturation {code} exige une structure valideur "
                "(codeStructureValideur).",
            )
        ]
    return []


def _service_problem(code: str, service: ServiceSpec | None) -> str | None:
    if code == RESERVED_SERVICE:
        return (
            f"Le service {RESERVED_SERVICE} est réservé à la facturation entre entités publiques."
        )
    if service is None:
        return f"Le service {code} est inconnu pour ce destinataire."
    if not service.active:
        return f"Le service {code} n'est pas actif."
    return None


def _content_refusals(
    invoice: SoumettreFactureIn, uploads: Mapping[int, UploadedFile], settings: EmulatorSettings
) -> list[Refusal]:
    refusals: list[Refusal] = []
    if invoice.modeDepot == "SAISIE_API" and not invoice.lignePoste:
        refusals.append(
            Refusal(
                settings.code_content_missing,
                "En mode SAISIE_API, la facture doit comporter au moins une ligne de poste.",
            )
        )
    main = [piece.pieceJointePrincipaleId for piece in invoice.pieceJointePrincipale or []]
    extra = [piece.pieceJointeComplementaireId for piece in invoice.pieceJointeComplementaire or []]
    if invoice.modeDepot != "SAISIE_API" and not main:
        refusals.append(
            Refusal(
                settings.code_content_missing,
                f"En mode {invoice.modeDepot}, la pièce jointe principale est obligatoire.",
            )
        )
    unknown = [str(piece_id) for piece_id in main + extra if piece_id not in uploads]
    if unknown:
        refusals.append(
            Refusal(
                settings.code_content_missing,
                f"Pièce(s) jointe(s) inconnue(s) : {', '.join(unknown)}.",
            )
        )
    repeated = sorted({str(piece_id) for piece_id in extra if (main + extra).count(piece_id) > 1})
    if repeated:
        refusals.append(
            Refusal(
                settings.code_attachment_reused,
                f"Pièce(s) jointe(s) citée(s) plusieurs fois ou principale et complémentaire à la "
                f"fois : {', '.join(repeated)}.",
            )
        )
    if invoice.modeDepot == "DEPOT_PDF_SIGNE_API":
        unsigned = [str(piece_id) for piece_id in main if not _signed(uploads.get(piece_id))]
        if main and unsigned:
            refusals.append(
                Refusal(
                    settings.code_pdf_not_signed,
                    f"En mode DEPOT_PDF_SIGNE_API, la pièce jointe principale doit être un PDF "
                    f"signé (dictionnaire de signature /ByteRange et /Contents) : "
                    f"{', '.join(unsigned)}.",
                )
            )
    known = [uploads[piece_id] for piece_id in dict.fromkeys(main + extra) if piece_id in uploads]
    return refusals + check_attachment_files(known, settings)


def _signed(upload: UploadedFile | None) -> bool:
    return upload is not None and upload.signed_pdf


def _amount_refusals(invoice: SoumettreFactureIn, settings: EmulatorSettings) -> list[Refusal]:
    totals = invoice.montantTotal
    refusals: list[Refusal] = []
    if invoice.lignePoste:
        lines = sum(
            (
                _cents(
                    line.lignePosteQuantite * line.lignePosteMontantUnitaireHT
                    - (line.lignePosteMontantRemiseHT or Decimal(0))
                )
                for line in invoice.lignePoste
            ),
            Decimal(0),
        )
        if abs(lines - _cents(totals.montantHtTotal)) > settings.line_sum_tolerance:
            refusals.append(
                Refusal(
                    settings.code_amounts_inconsistent,
                    f"La somme des lignes ({lines}) ne correspond pas au montant HT total "
                    f"({_cents(totals.montantHtTotal)}).",
                )
            )
    if _cents(totals.montantHtTotal) + _cents(totals.montantTVA) != _cents(totals.montantTtcTotal):
        refusals.append(
            Refusal(
                settings.code_amounts_inconsistent,
                "Le montant TTC total n'est pas égal au montant HT total augmenté de la TVA.",
            )
        )
    return refusals


def check_attachment(
    name: str, extension: str, size: int, settings: EmulatorSettings
) -> list[Refusal]:
    """Every reason `ajouter/fichier` would refuse this file."""
    refusals: list[Refusal] = []
    if size > settings.attachment_max_bytes:
        refusals.append(
            Refusal(
                settings.code_attachment_too_large,
                f"La pièce jointe {name} dépasse la taille maximale autorisée ({size} octets, "
                f"au plus {settings.attachment_max_bytes}).",
            )
        )
    stem, dot, name_extension = name.rpartition(".")
    allowed = {item.upper() for item in settings.attachment_extensions}
    if len(name) > settings.attachment_name_max_length or not dot or not stem or not name_extension:
        refusals.append(
            Refusal(
                settings.code_attachment_name_invalid,
                f"Le nom de la pièce jointe {name} doit comporter une extension et au plus "
                f"{settings.attachment_name_max_length} caractères.",
            )
        )
    elif extension.lstrip(".").upper() not in allowed or name_extension.upper() not in allowed:
        refusals.append(
            Refusal(
                settings.code_attachment_name_invalid,
                f"L'extension {extension} n'est pas autorisée pour une pièce jointe ({name}).",
            )
        )
    return refusals


def check_attachment_files(
    files: Sequence[UploadedFile], settings: EmulatorSettings
) -> list[Refusal]:
    """Every reason Chorus would refuse this set of attachments of one invoice.

    Each file again, since a file uploaded under other settings, or embedded in a flux document,
    was never checked; then their total, the principal included.
    """
    refusals = [
        refusal
        for upload in files
        for refusal in check_attachment(upload.name, upload.extension, upload.size, settings)
    ]
    total = sum(upload.size for upload in files)
    if total > settings.attachments_total_max_bytes:
        refusals.append(
            Refusal(
                settings.code_attachments_total_too_large,
                f"Les pièces jointes de la facture dépassent ensemble la taille maximale "
                f"autorisée ({total} octets, au plus {settings.attachments_total_max_bytes}).",
            )
        )
    return refusals
