"""Fault injection for resilience tests and the chaos run: the rules and the ASGI layer.

Kinds and what the caller sees:

* `http_500`, `http_502`, `http_503`, `http_429`: that status, call not processed; `retry_after`
  becomes a `Retry-After` header.
* `http_401`, `http_403`: that status with an empty body, like PISTE; call not processed.
* `revoke_token`: every issued token is invalidated, then 401 with an empty body.
* `token_invalid_client`: HTTP 400 `{"error": "invalid_client"}`, as PISTE's token endpoint
  sometimes answers valid credentials; meant for `oauth/token`.
* `latency`: waits `delay_ms` (default 1000) then processes the call normally.
* `read_timeout`: waits `delay_ms` (default 30000) and answers 504 without processing the call,
  so a client with a shorter read timeout gives up on a call that left no trace.
* `commit_then_drop`: processes and records the call, waits `delay_ms` (default 0), then starts
  the response and aborts the connection before any body byte: the ambiguous case. Under
  uvicorn the client gets a protocol error (uvicorn logs the abort as an application error);
  under `httpx.ASGITransport` the call raises `ResponseDropped`, an `httpx.RemoteProtocolError`,
  which is what a client sees from a real dropped connection.

While waiting, a client that hangs up ends the wait early and nothing more is sent.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.emulator.stats import Stats

FaultKind = Literal[
    "http_500",
    "http_502",
    "http_503",
    "http_429",
    "http_401",
    "http_403",
    "latency",
    "read_timeout",
    "commit_then_drop",
    "revoke_token",
    "token_invalid_client",
]
ANY_ENDPOINT = "*"
OAUTH_ENDPOINT = "oauth/token"
OAUTH_PATH = "/api/oauth/token"
CPRO_PREFIX = "/cpro/"
# The endpoints a rule may name (besides "*"); a test checks this against the app's routes.
ENDPOINTS = frozenset(
    {
        OAUTH_ENDPOINT,
        "factures/v1/soumettre",
        "factures/v1/rechercher/fournisseur",
        "factures/v1/consulter/fournisseur",
        "factures/v1/consulter/historique",
        "factures/v1/deposer/flux",
        "structures/v1/rechercher",
        "structures/v1/consulter",
        "structures/v1/rechercher/services",
        "structures/v1/consulter/service",
        "transverses/v1/ajouter/fichier",
        "transverses/v1/recuperer/structures/actives/fournisseur",
        "transverses/v1/health-check",
        "transverses/v1/consulterCR",
        "transverses/v1/consulterCRDetaille",
    }
)
DEFAULT_DELAY_MS: dict[str, int] = {"latency": 1000, "read_timeout": 30000, "commit_then_drop": 0}
STATUS_OF_KIND = {
    "http_500": 500,
    "http_502": 502,
    "http_503": 503,
    "http_429": 429,
    "http_401": 401,
    "http_403": 403,
    "revoke_token": 401,
}
INVALID_CLIENT = json.dumps(
    {"error": "invalid_client", "error_description": "Client authentication failed"}
).encode()
REASONS = {429: b"Too Many Requests", 500: b"Internal Server Error", 502: b"Bad Gateway"}


def endpoint_of(path: str) -> str | None:
    """The name a fault rule uses for a request path (`factures/v1/soumettre`), or None."""
    if path.rstrip("/") == OAUTH_PATH:
        return OAUTH_ENDPOINT
    if path.startswith(CPRO_PREFIX):
        return path[len(CPRO_PREFIX) :].strip("/")
    return None


class FaultRule(BaseModel):
    """One fault: where, what, and how often (every call unless `probability`/`next_n`)."""

    model_config = ConfigDict(extra="forbid")

    endpoint: str = ANY_ENDPOINT
    kind: FaultKind
    probability: float | None = Field(default=None, ge=0, le=1)
    next_n: int | None = Field(default=None, ge=1)
    retry_after: int | None = Field(default=None, ge=0)
    delay_ms: int | None = Field(default=None, ge=0)

    @field_validator("endpoint")
    @classmethod
    def _normalise(cls, value: str) -> str:
        # Accept the endpoint as a rule name, a /cpro path or the token URL path.
        value = value.strip()
        if value == ANY_ENDPOINT:
            return value
        name = endpoint_of("/" + value.lstrip("/")) or endpoint_of(CPRO_PREFIX + value)
        if name not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {value!r}; known: {sorted(ENDPOINTS)}")
        return name

    @property
    def delay_seconds(self) -> float:
        """The configured or default wait, in seconds."""
        delay = self.delay_ms if self.delay_ms is not None else DEFAULT_DELAY_MS.get(self.kind, 0)
        return delay / 1000


class FaultPlan(BaseModel):
    """Body of `PUT /_emulator/faults`: the rules replace the current ones."""

    model_config = ConfigDict(extra="forbid")

    rules: list[FaultRule]
    seed: int | None = None


class ActiveRule(BaseModel):
    """A rule as `GET /_emulator/faults` shows it."""

    rule: FaultRule
    fired: int = 0
    remaining: int | None = None


class FaultInjector:
    """The current rules and the random source deciding probabilistic ones."""

    def __init__(self) -> None:
        self._rules: list[ActiveRule] = []
        self._seed: int | None = None
        self._random = random.Random()  # noqa: S311 - chaos draws, not cryptography

    def set(self, plan: FaultPlan) -> None:
        """Replace the rules; a seed makes the probabilistic draws reproducible."""
        self._rules = [ActiveRule(rule=rule, remaining=rule.next_n) for rule in plan.rules]
        self._seed = plan.seed
        self._random = random.Random(plan.seed)  # noqa: S311 - chaos draws, not cryptography

    def clear(self) -> None:
        """Remove every rule."""
        self.set(FaultPlan(rules=[]))

    def view(self) -> dict[str, object]:
        """The rules with how often each fired and how many shots remain."""
        return {"rules": [rule.model_dump() for rule in self._rules], "seed": self._seed}

    def pick(self, endpoint: str) -> FaultRule | None:
        """The first rule that fires for this call, if any, counting the shot."""
        for active in self._rules:
            rule = active.rule
            if rule.endpoint not in (ANY_ENDPOINT, endpoint) or active.remaining == 0:
                continue
            if rule.probability is not None and self._random.random() >= rule.probability:
                continue
            active.fired += 1
            if active.remaining is not None:
                active.remaining -= 1
            return rule
        return None


class ResponseDropped(httpx.RemoteProtocolError):
    """Raised by `commit_then_drop` after the call was processed: the response is lost."""


class FaultMiddleware:
    """Counts Chorus and token calls and applies the fault rule that fires, if any."""

    def __init__(
        self, app: ASGIApp, faults: FaultInjector, stats: Stats, revoke_tokens: Callable[[], int]
    ) -> None:
        self.app = app
        self.faults = faults
        self.stats = stats
        self.revoke_tokens = revoke_tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the call through, or answer it the way the firing rule says."""
        endpoint = endpoint_of(scope["path"]) if scope["type"] == "http" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        self.stats.calls[endpoint] += 1
        rule = self.faults.pick(endpoint)
        if rule is None:
            await self.app(scope, receive, send)
            return
        self.stats.faults_fired[rule.kind] += 1
        if rule.kind == "latency":
            await asyncio.sleep(rule.delay_seconds)
            await self.app(scope, receive, send)
        elif rule.kind == "read_timeout":
            if not await _client_left_within(rule.delay_seconds, receive):
                await _answer(send, 504, b"Gateway Timeout")
        elif rule.kind == "commit_then_drop":
            await self._commit_then_drop(rule, scope, receive, send)
        elif rule.kind == "token_invalid_client":
            await _answer(send, 400, INVALID_CLIENT, [(b"content-type", b"application/json")])
        else:
            if rule.kind == "revoke_token":
                self.revoke_tokens()
            status = STATUS_OF_KIND[rule.kind]
            headers = []
            if rule.retry_after is not None and status in (429, 503):
                headers.append((b"retry-after", str(rule.retry_after).encode()))
            body = b"" if status in (401, 403) else REASONS.get(status, b"Service Unavailable")
            await _answer(send, status, body, headers)

    async def _commit_then_drop(
        self, rule: FaultRule, scope: Scope, receive: Receive, send: Send
    ) -> None:
        captured: list[Message] = []

        async def capture(message: Message) -> None:
            captured.append(message)

        await self.app(scope, receive, capture)
        if await _client_left_within(rule.delay_seconds, receive):
            return
        start = next(message for message in captured if message["type"] == "http.response.start")
        await send(start)
        # Aborting after the status line is the only way an ASGI app can make a server cut the
        # connection instead of answering 500.
        raise ResponseDropped("Server disconnected without sending the response body.")


async def _answer(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    all_headers = [(b"content-length", str(len(body)).encode()), *(headers or [])]
    if body and not any(name == b"content-type" for name, _ in all_headers):
        all_headers.append((b"content-type", b"text/plain; charset=utf-8"))
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


async def _client_left_within(seconds: float, receive: Receive) -> bool:
    """Wait `seconds`, or less if the client disconnects first; True if it did."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(disconnected())
    try:
        done, _ = await asyncio.wait({watcher}, timeout=seconds)
    finally:
        watcher.cancel()
    return bool(done)
