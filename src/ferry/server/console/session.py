"""The console session: a cookie holding the operator's token pair, and CSRF tokens derived from it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from ferry.auth import Operator

COOKIE = "ferry_console"
LOGIN_CSRF_COOKIE = "ferry_console_login"
PATH = "/console"
_SEP = "|"


@dataclass(frozen=True)
class ConsoleSession:
    """A logged-in operator and the token pair behind the cookie."""

    operator: Operator
    session_token: str
    security_token: str

    @property
    def csrf(self) -> str:
        """The per-session form token: a digest of the (secret) security token, never the token itself."""
        return csrf_for(self.security_token)


def csrf_for(security_token: str) -> str:
    """A stable CSRF token for one session."""
    return hashlib.sha256(b"ferry-console-csrf\0" + security_token.encode("utf-8")).hexdigest()[:40]


def same_token(expected: str, given: object) -> bool:
    """Constant-time comparison; a missing or non-text value never matches."""
    return isinstance(given, str) and bool(given) and hmac.compare_digest(expected.encode(), given.encode())


def read_cookie(request: Request) -> tuple[str, str] | None:
    """The (session, security) token pair from the console cookie, if it has that shape."""
    value = request.cookies.get(COOKIE, "")
    session_token, sep, security_token = value.partition(_SEP)
    if not sep or not session_token or not security_token:
        return None
    return session_token, security_token


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "") == "https"


def set_session_cookie(request: Request, response: Response, session_token: str, security_token: str,
                       max_age: int) -> None:
    """HttpOnly, SameSite=Strict, path /console, Secure when served over https."""
    response.set_cookie(COOKIE, f"{session_token}{_SEP}{security_token}", max_age=max_age, path=PATH,
                        httponly=True, samesite="strict", secure=_secure(request))


def clear_session_cookie(request: Request, response: Response) -> None:
    """Drop the console cookie."""
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict", secure=_secure(request))


def login_csrf(request: Request) -> str:
    """The login form's token (double-submit cookie: there is no session yet): the cookie's, or a new one."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return token if len(token) >= 20 else secrets.token_urlsafe(24)


def set_login_csrf(request: Request, response: Response, token: str) -> None:
    """Send the login form's token as a cookie, for the POST to echo."""
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, path=PATH, httponly=True, samesite="strict",
                        secure=_secure(request))
