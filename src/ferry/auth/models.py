"""What authentication hands out: operators, logon results, and the errors of the auth door."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ferry.errors import Code, FerryError

# Campaign fault codes an unmodified client recognises (reference acc-js-sdk-protocol.md §3.3, §7).
CAMPAIGN_BAD_LOGON = "XSV-350022"
CAMPAIGN_SESSION_INVALID = "XSV-350008"


@dataclass(frozen=True)
class Operator:
    """A person or application allowed to call ferry; `schemas` it may ingest into (and read), `read_schemas` it
    may only read (see `ferry.auth.rights`)."""

    id: int
    login: str
    admin: bool
    schemas: frozenset[str]
    disabled: bool
    read_schemas: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LogonResult:
    """The tokens of a new session; both are needed on every later call."""

    session_token: str
    security_token: str
    operator: Operator
    expires_at: dt.datetime


class AuthError(FerryError):
    """A refusal at the auth door, with the Campaign code a SOAP fault starts with and the HTTP status for REST.

    `faultstring` (campaign code + message) is what a SOAP fault carries; `retry_after` (seconds) is set on 429.
    """

    def __init__(
        self,
        code: Code,
        message: str,
        *,
        campaign_code: str | None = None,
        http_status: int = 401,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(code, message)
        self.campaign_code = campaign_code or code.code
        self.http_status = http_status
        self.retry_after = retry_after

    @property
    def faultstring(self) -> str:
        """`XSV-350008 Session has expired or is invalid. Please reconnect.`: the SOAP faultstring."""
        return f"{self.campaign_code} {self.message}"
