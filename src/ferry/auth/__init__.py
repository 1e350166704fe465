"""Operators, password hashing, session and security tokens, rights and rate limits."""

from ferry.auth.authenticator import ADMIN_LOGIN, Authenticator, session_invalid
from ferry.auth.models import CAMPAIGN_BAD_LOGON, CAMPAIGN_SESSION_INVALID, AuthError, LogonResult, Operator

__all__ = [
    "ADMIN_LOGIN",
    "CAMPAIGN_BAD_LOGON",
    "CAMPAIGN_SESSION_INVALID",
    "AuthError",
    "Authenticator",
    "LogonResult",
    "Operator",
    "session_invalid",
]
