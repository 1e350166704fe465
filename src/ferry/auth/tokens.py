"""Session and security tokens: random, URL- and cookie-safe, stored only as SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets
import uuid


def new_session_token() -> str:
    """Campaign-like: `___` then an upper-case UUID built from 128 random bits."""
    return "___" + str(uuid.UUID(bytes=secrets.token_bytes(16))).upper()


def new_security_token() -> str:
    """Campaign-like: `@` then 256 random bits in base64url (no `;`, no spaces, no padding)."""
    return "@" + secrets.token_urlsafe(32)


def digest(token: str) -> bytes:
    """What the database keeps of a token (a leaked table gives no usable token)."""
    return hashlib.sha256(token.encode("utf-8")).digest()
