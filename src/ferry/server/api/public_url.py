"""The address ferry writes for itself (the WSDL's `soap:address`, minted unsubscribe links): `FERRY_PUBLIC_URL`
when set; otherwise the request's own host only when it is one the server is bound to or configured for.

A `Host` header is the client's to choose: reflected as it came, any caller could make ferry hand out a WSDL that
points SOAP clients elsewhere, or mint unsubscribe links to a host of theirs (issue 27).
"""

from __future__ import annotations

import ipaddress
import socket

from starlette.requests import Request

from ferry.config import Settings

_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def own_base_url(request: Request, settings: Settings) -> str:
    """`scheme://host[:port]` (no trailing slash) under which clients reach this server."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    scheme = request.url.scheme
    host, port = request.url.hostname or "", request.url.port
    if host and _known_host(host, settings):
        shown = f"[{host}]" if ":" in host else host
        return f"{scheme}://{shown}" + (f":{port}" if port else "")
    # A host nobody configured: the address the server listens on.
    bound = socket.getfqdn() if settings.host in _WILDCARDS else settings.host
    shown = f"[{bound}]" if ":" in bound else bound
    return f"{scheme}://{shown}:{settings.port}"


def _known_host(host: str, settings: Settings) -> bool:
    host = host.lower().strip("[]")
    bound = settings.host.lower().strip("[]")
    if host == bound:
        return True
    if (bound in _WILDCARDS or _is_loopback(bound)) and host in _LOOPBACK_NAMES:
        return True
    if bound in _WILDCARDS:
        return host in (socket.gethostname().lower(), socket.getfqdn().lower()) or _local_address(host)
    return False


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _local_address(host: str) -> bool:
    """An IP literal of one of this machine's interfaces (one it could bind to)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((str(address), 0))
    except OSError:
        return False
    return True
