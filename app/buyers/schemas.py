"""A buyer's routing needs, as ERPs read them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class ServiceOut(BaseModel):
    """An active service (SE) an invoice may be addressed to."""

    code: str
    name: str | None


class BuyerServicesOut(BaseModel):
    """What an invoice to this buyer must carry, from Chorus Pro's directory (cached)."""

    siret: str
    name: str | None
    ej_required: bool
    service_required: bool
    ej_or_service_required: bool
    services: list[ServiceOut]
    fetched_at: datetime
