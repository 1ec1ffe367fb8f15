"""Wire pieces every Chorus answer or request shares: the envelope, amounts, pagination.

The emulator's wire models keep Chorus's own (French) field names.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

# Chorus sends and expects amounts as JSON numbers; Decimal keeps the cents exact inside.
Amount = Annotated[
    Decimal, PlainSerializer(lambda value: float(value), return_type=float, when_used="json")
]


class WireIn(BaseModel):
    """A request body. Unknown fields are kept so `unknown_fields` can name them."""

    model_config = ConfigDict(extra="allow")


class Retour(BaseModel):
    """The envelope of every answer: `codeRetour` 0 on success, else a business refusal."""

    codeRetour: int = 0
    libelle: str


class PaginationIn(WireIn):
    """The paging object of search requests (its name varies per operation)."""

    nbResultatsParPage: int | None = Field(default=None, ge=1)
    pageResultatDemandee: int | None = Field(default=None, ge=1)
    triColonne: str | None = None
    triSens: Literal["Ascendant", "Descendant"] | None = None


class ParametresRetour(BaseModel):
    """Paging of a search answer."""

    nbResultatsParPage: int
    pageCourante: int
    pages: int
    total: int


def unknown_fields(model: BaseModel, prefix: str = "") -> list[str]:
    """Dotted paths of the fields a request carried that the model does not declare."""
    found = [f"{prefix}{name}" for name in (model.model_extra or {})]
    for name in type(model).model_fields:
        value = getattr(model, name)
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            if isinstance(item, BaseModel):
                where = f"{name}[{index}]" if isinstance(value, list) else name
                found += unknown_fields(item, f"{prefix}{where}.")
    return found
