"""`ajouter/fichier`: receive an attachment and hand back its `pieceJointeId`."""

from __future__ import annotations

import base64
import binascii
import hashlib

from app.emulator.auth import Caller
from app.emulator.envelope import ChorusRefusal, MalformedRequest
from app.emulator.rules import check_attachment
from app.emulator.runtime import Emulator
from app.emulator.signature import is_signed_pdf
from app.emulator.store import AttachmentRecord
from app.emulator.transverses.schemas import AjouterFichierIn, AjouterFichierOut


def add_attachment(
    emulator: Emulator, caller: Caller, upload: AjouterFichierIn
) -> AjouterFichierOut:
    """Check and record the file; only its digest (and whether it is a signed PDF) is kept."""
    try:
        # Some encoders wrap base64 in lines; the line breaks carry no data.
        content = base64.b64decode("".join(upload.pieceJointeFichier.split()), validate=True)
    except binascii.Error:
        raise MalformedRequest(
            "Requête invalide - pieceJointeFichier : contenu base64 illisible"
        ) from None
    refusals = check_attachment(
        upload.pieceJointeNom, upload.pieceJointeExtension, len(content), emulator.settings
    )
    if refusals:
        raise ChorusRefusal(refusals[0].code, refusals[0].libelle)
    record = AttachmentRecord(
        id=emulator.store.allocate_attachment_id(),
        name=upload.pieceJointeNom,
        mime_type=upload.pieceJointeTypeMime,
        extension=upload.pieceJointeExtension,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        owner_ids=sorted(caller.structure_ids),
        uploaded_at=emulator.now(),
        signed_pdf=is_signed_pdf(content),
    )
    emulator.store.add_attachment(record)
    return AjouterFichierOut(libelle=emulator.settings.success_libelle, pieceJointeId=record.id)
