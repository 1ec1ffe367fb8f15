"""Chorus-style pagination: a page of results plus `parametresRetour`."""

from __future__ import annotations

import math
from typing import TypeVar

from app.emulator.wire.common import PaginationIn, ParametresRetour

T = TypeVar("T")

# Chorus answers 10 results per page unless asked otherwise (PR #571 in OCA/l10n-france).
DEFAULT_PAGE_SIZE = 10


def paginate(items: list[T], pagination: PaginationIn | None) -> tuple[list[T], ParametresRetour]:
    """The requested page of `items` (already sorted) and the paging summary."""
    size = (pagination.nbResultatsParPage if pagination else None) or DEFAULT_PAGE_SIZE
    page = (pagination.pageResultatDemandee if pagination else None) or 1
    start = (page - 1) * size
    summary = ParametresRetour(
        nbResultatsParPage=size,
        pageCourante=page,
        pages=math.ceil(len(items) / size),
        total=len(items),
    )
    return items[start : start + size], summary


def descending(pagination: PaginationIn | None) -> bool:
    """Whether the caller asked for `triSens: Descendant`."""
    return pagination is not None and pagination.triSens == "Descendant"
