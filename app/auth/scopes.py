"""What a client may do."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    """Scopes granted to an API client."""

    INVOICES_WRITE = "invoices:write"
    INVOICES_READ = "invoices:read"
    OPERATOR = "operator"
    # Self-service: may ask to be attached to a supplier structure (its principal decides).
    STRUCTURES_REQUEST = "structures:request"
