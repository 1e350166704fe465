"""Idempotency-Key records: the first answer of a key per operator, kept in staging for 24 hours."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

HOURS = 24
MAX_KEY_LENGTH = 255
# Keys live HOURS hours (the SQL says it literally).
_LOOKUP = (
    "WITH wanted AS (SELECT * FROM unnest(%s::text[], %s::text[]) AS w(operator, key)), "
    "gone AS (DELETE FROM ferry.idempotency i USING wanted w WHERE i.operator = w.operator AND i.key = w.key "
    "AND i.created_at <= now() - interval '24 hours') "
    "SELECT i.operator, i.key, i.fingerprint, i.status, i.body FROM ferry.idempotency i JOIN wanted w "
    "ON i.operator = w.operator AND i.key = w.key WHERE i.created_at > now() - interval '24 hours'"
)
_PURGE = "DELETE FROM ferry.idempotency WHERE created_at <= now() - interval '24 hours'"


@dataclass(frozen=True, slots=True)
class Claim:
    """A keyed call's claim on its key: what identifies the request and the answer to keep if it is staged."""

    operator: str
    key: str
    fingerprint: bytes
    status: int
    body: bytes

    def row(self, request_id: uuid.UUID) -> tuple[str, str, bytes, int, bytes, uuid.UUID]:
        """The `ferry.idempotency` row of this claim for the call `request_id`."""
        return (self.operator, self.key, self.fingerprint, self.status, self.body, request_id)


@dataclass(frozen=True, slots=True)
class Stored:
    """The answer kept for a key: `matches` is False when it was given to a different request."""

    status: int
    body: bytes
    matches: bool


COLUMNS = ("operator", "key", "fingerprint", "status", "body", "request_id")
CASTS = ("::text", "::text", "::bytea", "::smallint", "::bytea", "::uuid")
INSERT = "INSERT INTO ferry.idempotency (operator, key, fingerprint, status, body, request_id) VALUES "


def fingerprint(*parts: str | bytes) -> bytes:
    """A digest of what makes two requests the same request (method, path, content type, body)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.digest()


def lookup(conn: psycopg.Connection, claims: Sequence[Claim]) -> dict[tuple[str, str], Stored]:
    """The fresh answers kept for these claims' keys (expired ones are deleted on the way)."""
    found = conn.execute(_LOOKUP, ([c.operator for c in claims], [c.key for c in claims])).fetchall()
    by_key = {(c.operator, c.key): c for c in claims}
    result = {}
    for operator, key, digest, status, body in found:
        claim = by_key[(operator, key)]
        result[(operator, key)] = Stored(int(status), bytes(body), bytes(digest) == claim.fingerprint)
    return result


def purge(conn: psycopg.Connection) -> int:
    """Delete the keys older than 24 hours; returns how many."""
    return conn.execute(_PURGE).rowcount
