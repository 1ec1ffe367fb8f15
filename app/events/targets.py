"""Where webhooks may go: public http(s) addresses only, checked at registration and at delivery.

A webhook URL is chosen by an API caller but fetched by the worker from inside the network, so
without a guard it reaches loopback services, the cloud metadata endpoint, or the emulator's
control API (server-side request forgery). Registration refuses what is knowable from the URL
itself (an address literal in any notation, `localhost`, credentials); delivery resolves the
host, checks every address it resolves to, and connects only to a checked one, so a name that
later resolves somewhere private (DNS rebinding) is refused too. `WEBHOOK_ALLOW_PRIVATE_TARGETS`
lifts the address rules for local development.
"""

from __future__ import annotations

import ipaddress
from typing import ClassVar

from pydantic import AnyUrl

from app.domain.violations import Code, Violation
from app.errors import GatewayError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})
# Names that are local by definition (RFC 6761) or the clouds' metadata services.
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "metadata.google.internal"})
# NAT64 (RFC 6052): 64:ff9b::a.b.c.d reaches the IPv4 address a.b.c.d.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class WebhookUrlNotAllowed(GatewayError):
    """The webhook URL points somewhere the gateway must not send requests."""

    status: ClassVar[int] = 422
    code: ClassVar[str] = "WEBHOOK_URL_NOT_ALLOWED"
    title: ClassVar[str] = "Webhook URL not allowed"


class TargetNotAllowed(Exception):
    """Raised at connection time: the host resolved to an address webhooks may not reach."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, 6to4, Teredo, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_allowed(address: IPAddress) -> bool:
    """Whether webhooks may reach `address`: a globally routable unicast address only.

    `is_global` is False for loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7),
    link-local (169.254/16 with the metadata endpoint, fe80::/10), unspecified, CGNAT
    (100.64/10), reserved and documentation ranges; IPv6 forms embedding an IPv4 address are
    judged by that address.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return address_allowed(embedded)
    # Python counts some multicast ranges (224.0.1.0/24, ff0e::/16) as global.
    return address.is_global and not address.is_multicast


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


def _refused(message: str) -> WebhookUrlNotAllowed:
    return WebhookUrlNotAllowed(message, errors=[Violation("url", Code.FIELD_INVALID, message)])


def check_webhook_url(url: AnyUrl, *, allow_private: bool) -> None:
    """Refuse a URL webhooks may not be registered for (raises `WebhookUrlNotAllowed`).

    `url` is already parsed the WHATWG way, so `http://2130706433/` or `http://0x7f.1/` arrive
    here as `127.0.0.1`: every notation of an address is judged as that address.
    """
    if url.scheme not in ALLOWED_SCHEMES:
        raise _refused("Webhook URLs must use http or https.")
    if url.username or url.password:
        # They would be stored in clear and listed back; a secret belongs in a header we sign.
        raise _refused("Webhook URLs may not contain credentials (user:password@).")
    # `localhost.` is `localhost`: a trailing dot must not slip past the name checks.
    host = (url.host or "").lower().rstrip(".")
    if not host:
        raise _refused("Webhook URLs need a host.")
    if allow_private:
        return
    address = _literal_address(host)
    if address is not None:
        if not address_allowed(address):
            raise _refused(
                f"Webhook URLs may not point at {address}: loopback, private, link-local and "
                "other non-public addresses are refused."
            )
        return
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        raise _refused(f"Webhook URLs may not point at {host}: it names this machine or network.")
