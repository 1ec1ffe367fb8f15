"""The Chorus Pro client: PISTE tokens, typed calls and an error tree that says what to do next."""

from app.chorus.accounts import TechnicalAccount
from app.chorus.auth import TokenCache
from app.chorus.classify import DUPLICATE_CODES, Accepted, ChorusCallResult, classify
from app.chorus.client import ChorusClient
from app.chorus.errors import (
    ChorusAmbiguous,
    ChorusAuthError,
    ChorusDuplicate,
    ChorusError,
    ChorusNotSent,
    ChorusRefusal,
    ChorusTokenError,
)
from app.chorus.throttle import TokenBucket

__all__ = [
    "DUPLICATE_CODES",
    "Accepted",
    "ChorusAmbiguous",
    "ChorusAuthError",
    "ChorusCallResult",
    "ChorusClient",
    "ChorusDuplicate",
    "ChorusError",
    "ChorusNotSent",
    "ChorusRefusal",
    "ChorusTokenError",
    "TechnicalAccount",
    "TokenBucket",
    "TokenCache",
    "classify",
]
