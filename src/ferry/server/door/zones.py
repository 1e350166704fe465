"""Network zones: Campaign's `sessionTokenOnly` security zones, the /metrics networks, the client address.

`FERRY_SESSION_TOKEN_ONLY_NETWORKS` (a comma or space separated CIDR list, default empty) names the networks whose
calls need only the session token; from anywhere else the security token stays required. The client address is
the socket peer, or the `X-Forwarded-For` address uvicorn sets when the peer is in `--forwarded-allow-ips`.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any

from ferry import errors
from ferry.errors import FerryError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


@functools.lru_cache(maxsize=64)
def parse_networks(text: str, setting: str = "network list") -> tuple[Network, ...]:
    """`10.0.0.0/8, 192.168.1.7` → networks (a bare address is a /32 or /128); FRY-300004 on a bad entry."""
    found = []
    for part in text.replace(",", " ").split():
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise FerryError(errors.CONFIG_ERROR, f"{setting}: {part!r} is not an address or CIDR network "
                             "(e.g. 10.0.0.0/8)") from None
    return tuple(found)


def in_networks(address: str | None, networks: tuple[Network, ...]) -> bool:
    """True when `address` (an IP, maybe IPv4-mapped IPv6) is in one of `networks`."""
    if not address or not networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in networks)


def client_address(request: Any) -> str | None:
    """The caller's address (Starlette request or ASGI scope), after uvicorn's proxy-header handling."""
    client = request.get("client") if isinstance(request, dict) else getattr(request, "client", None)
    if not client:
        return None
    host = client[0] if isinstance(client, tuple | list) else getattr(client, "host", None)
    return str(host) if host else None


def session_token_only(settings: Any, address: str | None) -> bool:
    """True when calls from `address` need only the session token (a `sessionTokenOnly` zone)."""
    text = getattr(settings, "session_token_only_networks", "") or ""
    return bool(text) and in_networks(address, parse_networks(text, "FERRY_SESSION_TOKEN_ONLY_NETWORKS"))


def session_token_only_for(settings: Any, request: Any) -> bool:
    """`session_token_only` for a request (Starlette request or ASGI scope); its address is read only when a
    `sessionTokenOnly` zone is configured."""
    if not (getattr(settings, "session_token_only_networks", "") or ""):
        return False
    return session_token_only(settings, client_address(request))


def is_loopback_host(host: str) -> bool:
    """True when a listen address only accepts local connections."""
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
