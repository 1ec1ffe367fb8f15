"""What can go wrong talking to Chorus Pro, shaped by what the caller may safely do next.

Like httpx's exception tree, the classes say *how* a call failed, not where: the outbox decides
from the class alone whether to resend, reconcile first, give up, or stop a structure's deliveries.
Messages name the endpoint, HTTP status and Chorus's code and label; never a header, a token, a
password or a request body.
"""

from __future__ import annotations


class ChorusError(Exception):
    """Any failed call to Chorus Pro or its PISTE gateway."""

    def __init__(
        self, message: str, *, endpoint: str | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.endpoint = endpoint
        self.status_code = status_code

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, endpoint={self.endpoint!r}, "
            f"status_code={self.status_code!r})"
        )


class ChorusNotSent(ChorusError):
    """The operation certainly did not run: resending is safe (after `retry_after` seconds)."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint, status_code=status_code)
        self.retry_after = retry_after


class ChorusTokenError(ChorusNotSent):
    """The PISTE token endpoint failed or refused the credentials, so no Chorus call was made."""

    # Every token error is about the one PISTE endpoint, so callers need not name it.
    ENDPOINT = "oauth/token"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        oauth_error: str | None = None,
    ) -> None:
        super().__init__(
            message, endpoint=self.ENDPOINT, status_code=status_code, retry_after=retry_after
        )
        # The OAuth2 `error` code (`invalid_client`...) tells "credentials wrong" from "PISTE down".
        self.oauth_error = oauth_error


class ChorusAmbiguous(ChorusError):
    """The call may have taken effect: reconcile (search Chorus) before resending."""


class ChorusRefusal(ChorusError):
    """Chorus definitely refused the request; `code` is its `codeRetour`, `label` its `libelle`."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None,
        label: str,
        endpoint: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint, status_code=status_code)
        # None when Chorus refused the request as a whole (HTTP 400 without its JSON envelope).
        self.code = code
        self.label = label


class ChorusDuplicate(ChorusRefusal):
    """Chorus refused the invoice because its number already exists: an earlier attempt landed."""


class ChorusAuthError(ChorusError):
    """HTTP 401/403 persisted after a token refresh: PISTE access or technical account is wrong."""
