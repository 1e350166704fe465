"""One-click unsubscribe links (RFC 8058): HMAC-SHA256 signed, expiring tokens naming a recipient and a service.

The secret lives in staging (`ferry.secrets`, name `unsubscribe-link`), generated on first use. A token is
`base64url(json payload) "." base64url(hmac)`; the payload holds the recipient key and values, the service name
("" = every channel) and the expiry (Unix seconds).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote

from psycopg_pool import ConnectionPool

from ferry import errors
from ferry.errors import FerryError

SECRET_NAME = "unsubscribe-link"
LINK_PATH = "/l/unsubscribe"
DEFAULT_TTL_DAYS = 60


@dataclass(frozen=True)
class LinkClaim:
    """What a valid token names."""

    key: tuple[str, ...]
    values: dict[str, str]
    service: str | None
    expires: int


def secret(pool: ConnectionPool) -> bytes:
    """The signing secret, created once (concurrent first uses agree on one)."""
    with pool.connection() as conn:
        conn.execute("INSERT INTO ferry.secrets (name, value) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
                     (SECRET_NAME, secrets.token_bytes(32)))
        row = conn.execute("SELECT value FROM ferry.secrets WHERE name = %s", (SECRET_NAME,)).fetchone()
    assert row is not None
    return bytes(row[0])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(key_secret: bytes, values: dict[str, str], service: str | None, *, key: tuple[str, ...] = ("email",),
               ttl_seconds: float = DEFAULT_TTL_DAYS * 86_400, now: float | None = None) -> str:
    """A signed token for (recipient, service), valid `ttl_seconds`."""
    expires = int((now if now is not None else time.time()) + ttl_seconds)
    payload = json.dumps({"k": list(key), "r": values, "s": service or "", "e": expires}, separators=(",", ":"),
                         sort_keys=True).encode()
    body = _b64(payload)
    return body + "." + _b64(hmac.new(key_secret, body.encode(), hashlib.sha256).digest())


def read_token(key_secret: bytes, token: str, *, now: float | None = None) -> LinkClaim:
    """The claim of a genuine, unexpired token; FRY-110006 when tampered or malformed, FRY-110007 when expired."""
    body, dot, signature = (token or "").partition(".")
    try:
        expected = hmac.new(key_secret, body.encode(), hashlib.sha256).digest()
        if not dot or not hmac.compare_digest(expected, _unb64(signature)):
            raise ValueError("signature")
        data = json.loads(_unb64(body))
        claim = LinkClaim(tuple(str(k) for k in data["k"]), {str(k): str(v) for k, v in data["r"].items()},
                          str(data["s"]) or None, int(data["e"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise FerryError(errors.LINK_INVALID, "this unsubscribe link is not valid (altered or incomplete)") from None
    if claim.expires < (now if now is not None else time.time()):
        raise FerryError(errors.LINK_EXPIRED, "this unsubscribe link has expired")
    return claim


def link(base_url: str, token: str) -> str:
    """The one-click URL for a token."""
    return f"{base_url.rstrip('/')}{LINK_PATH}?t={quote(token)}"


def headers(base_url: str, token: str) -> dict[str, str]:
    """The `List-Unsubscribe` and `List-Unsubscribe-Post` header values of a message (RFC 2369, RFC 8058)."""
    return {"List-Unsubscribe": f"<{link(base_url, token)}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def unsubscribe_link(pool: ConnectionPool, base_url: str, email: str, service: str | None, *,
                     ttl_seconds: float = DEFAULT_TTL_DAYS * 86_400) -> tuple[str, dict[str, str]]:
    """The link and headers for one recipient (by email) and service (None: opt out of every channel)."""
    token = make_token(secret(pool), {"email": email}, service, ttl_seconds=ttl_seconds)
    return link(base_url, token), headers(base_url, token)
