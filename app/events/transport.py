"""The HTTP client webhooks go out through: every connection to a checked address only.

httpcore opens connections through a network backend; this one resolves the host itself,
refuses it if any address it resolves to may not be reached (`address_allowed`), and connects
to one of the addresses it checked, so there is no second lookup a rebinding DNS server could
answer differently. TLS still verifies the certificate against the URL's host name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence

import httpcore
import httpx

from app.events.targets import TargetNotAllowed, address_allowed

LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)
# host, port -> the addresses it resolves to (tests inject their own; no real DNS there).
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


async def resolve_host(host: str, port: int) -> Sequence[str]:
    """The system resolver's addresses for `host`, without duplicates, in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _allowed(address: str) -> bool:
    try:
        return address_allowed(ipaddress.ip_address(address))
    except ValueError:  # not an address at all: nothing to connect to safely
        return False


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """A network backend that connects only to addresses webhooks may reach."""

    def __init__(
        self,
        resolve: Resolver = resolve_host,
        *,
        allow_private: bool = False,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._resolve = resolve
        self._allow_private = allow_private
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve, check every address, then connect to the first checked one that answers."""
        try:
            addresses = await self._resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve the host ({type(exc).__name__})") from exc
        if not addresses:
            raise httpcore.ConnectError("the host resolves to no address")
        if not self._allow_private:
            # One bad address is enough to refuse: which one a connection gets is not ours.
            for address in addresses:
                if not _allowed(address):
                    raise TargetNotAllowed(f"the host resolves to a refused address ({address})")
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None  # noqa: S101 - the loop ran at least once
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Never: a webhook is a TCP URL."""
        raise TargetNotAllowed("webhooks do not connect to unix sockets")

    async def sleep(self, seconds: float) -> None:
        """As the wrapped backend sleeps."""
        await self._inner.sleep(seconds)


def guarded_transport(
    *, allow_private: bool, resolve: Resolver = resolve_host
) -> httpx.AsyncHTTPTransport:
    """httpx's transport, its connections opened through `GuardedBackend`."""
    transport = httpx.AsyncHTTPTransport(trust_env=False, limits=LIMITS)
    # httpx takes no network backend: its pool is rebuilt alike, with ours.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=LIMITS.max_connections,
        max_keepalive_connections=LIMITS.max_keepalive_connections,
        keepalive_expiry=LIMITS.keepalive_expiry,
        network_backend=GuardedBackend(resolve, allow_private=allow_private),
    )
    return transport


def webhook_client(
    *, timeout_seconds: float, allow_private: bool, resolve: Resolver = resolve_host
) -> httpx.AsyncClient:
    """The client for webhook deliveries: guarded connections, no redirects, no env proxies.

    A proxy from the environment would make the proxy, not the receiver, the address checked;
    a redirect could lead anywhere: neither is followed.
    """
    return httpx.AsyncClient(
        transport=guarded_transport(allow_private=allow_private, resolve=resolve),
        timeout=httpx.Timeout(timeout_seconds),
        follow_redirects=False,
        trust_env=False,
    )
