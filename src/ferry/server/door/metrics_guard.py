"""Who may scrape `/metrics`: a bearer token (`FERRY_METRICS_TOKEN`), a network list (`FERRY_METRICS_NETWORKS`),
or by default anyone when ferry listens on loopback only, else loopback clients only."""

from __future__ import annotations

import hmac
from typing import Any

from ferry import errors
from ferry.auth.models import AuthError
from ferry.server.door import zones


def _bearer(request: Any) -> str | None:
    scheme, _, credentials = (request.headers.get("authorization") or "").partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


def check_scrape(settings: Any, request: Any) -> None:
    """Raise AuthError (401 for a missing or wrong token, 403 for a refused network) unless the scrape is allowed."""
    token = getattr(settings, "metrics_token", None) or None
    networks_text = getattr(settings, "metrics_networks", "") or ""
    address = zones.client_address(request)
    if token is not None:
        given = _bearer(request)
        if given is not None and hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8")):
            return
    if networks_text:
        if zones.in_networks(address, zones.parse_networks(networks_text, "FERRY_METRICS_NETWORKS")):
            return
    elif token is None:
        host = str(getattr(settings, "host", "127.0.0.1"))
        if zones.is_loopback_host(host) or zones.in_networks(address, zones.parse_networks("127.0.0.0/8 ::1")):
            return
    if token is not None:
        raise AuthError(errors.METRICS_FORBIDDEN, "scraping /metrics needs `Authorization: Bearer <token>` with "
                        "the FERRY_METRICS_TOKEN value", http_status=401)
    where = f"the networks of FERRY_METRICS_NETWORKS ({networks_text})" if networks_text else "loopback"
    raise AuthError(errors.METRICS_FORBIDDEN, f"scraping /metrics is allowed from {where} only; set "
                    "FERRY_METRICS_TOKEN or FERRY_METRICS_NETWORKS to allow this scraper", http_status=403)
