"""Chorus-style pagination: a page of results plus `parametresRetour`."""

from __future__ import annotations

import math
from typing import TypeVar

from app.emulator.envelope import NothingFound
from app.emulator.schemas import PaginationIn, ParametresRetour
from app.emulator.settings import EmulatorSettings

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


def ensure_found(items: list[T], settings: EmulatorSettings) -> None:
    """Answer a search that matched nothing at all the way the setting says (20000 or a list)."""
    if not items and settings.empty_search_not_found:
        raise NothingFound(settings.code_search_empty)


def descending(pagination: PaginationIn | None) -> bool:
    """Whether the caller asked for `triSens: Descendant`."""
    return pagination is not None and pagination.triSens == "Descendant"
