"""Parameter types shared by every route, bounded as tightly as what stores them."""

from __future__ import annotations

from typing import Annotated, Any

from annotated_types import Ge, Le
from fastapi import Path, Query

# Positions and ids are BIGINT: a larger number can only be a mistake, and would otherwise
# overflow in the driver (a 500) instead of being refused as a bad parameter.
INT64_MAX = 2**63 - 1
MAX_PAGE_SIZE = 500

Position = Annotated[int, Ge(0), Le(INT64_MAX)]
"""A position in an ordered feed (0 = before the first)."""

PageSize = Annotated[int, Ge(1), Le(MAX_PAGE_SIZE)]
"""How many items one page holds."""

# What the gateway itself hands out or expects, as precise as the spec can say it, so that a
# client (or a fuzzer) following the spec sends what the gateway reads. The patterns document the
# canonical form only: lookups stay lenient (an unknown id is a 404, a SIRET may come with spaces
# and still be normalized), so they are not enforced here.
SIRET_PATTERN = r"^[0-9]{14}$"
_ULID = "[0-9A-HJKMNP-TV-Z]{26}"
INVOICE_ID_PATTERN = rf"^inv_{_ULID}$"
WEBHOOK_ID_PATTERN = rf"^whk_{_ULID}$"
# `next_cursor` is the base64url (unpadded) of the last invoice id of the page: "inv_" is "aW52X".
CURSOR_PATTERN = r"^aW52X[A-Za-z0-9_-]{35}$"


def _documented(pattern: str, example: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "examples": [example],
        "json_schema_extra": {"pattern": pattern},
    }


SiretPath = Annotated[
    str, Path(**_documented(SIRET_PATTERN, "11000201100044", "A SIRET: 14 digits, Luhn checksum."))
]
SiretQuery = Annotated[
    str | None,
    Query(
        max_length=32,
        **_documented(SIRET_PATTERN, "41234567010000", "A SIRET: 14 digits, Luhn checksum."),
    ),
]
InvoiceIdPath = Annotated[
    str,
    Path(**_documented(INVOICE_ID_PATTERN, "inv_01KB4Z7X2V3M6Q8R9S0T1V2W3X", "An invoice id.")),
]
WebhookIdPath = Annotated[
    str,
    Path(
        **_documented(
            WEBHOOK_ID_PATTERN, "whk_01KB4Z7X2V3M6Q8R9S0T1V2W3X", "A webhook subscription id."
        )
    ),
]
CursorQuery = Annotated[
    str | None,
    Query(
        max_length=200,
        **_documented(
            CURSOR_PATTERN,
            "aW52XzAxS0I0WjdYMlYzTTZROFI5UzBUMVYyVzNY",
            "The `next_cursor` of the previous page.",
        ),
    ),
]
