"""The rights model: what an operator holds, what a route needs, and the one check between them.

An operator holds the admin right (everything), write rights on schemas (`ferry operator add --schema X`: ingest
into X and read it back) and read rights (`--read X`: read X only). A schema right names `ns:name` or its staging
id `ns:nameStg`; both mean the same schema. The subscription right is the write right on `nms:subscription`.
A route needs one `Rule` (see `ferry.server.door.route_rights` for the map of every route).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ferry import errors
from ferry.auth.models import AuthError, Operator
from ferry.errors import Code

SUBSCRIPTION = "nms:subscription"
SUBSCRIPTION_HISTORY = "nms:subHisto"
RECIPIENT = "nms:recipient"
SERVICE = "nms:service"


class Access(enum.Enum):
    """What a route needs from its caller."""

    PUBLIC = "public"  # no session (health checks, logon, one-click links authorised by their signed token)
    SCRAPE = "scrape"  # /metrics: the metrics token or network (ferry.server.door.metrics_guard)
    SESSION = "session"  # any valid session; answers only what the operator may see
    READ = "read"  # read right on each schema of the rule (or on the schema the call names)
    WRITE = "write"  # write right on each schema of the rule (or on the schema the call names)
    ADMIN = "admin"


@dataclass(frozen=True)
class Rule:
    """A route's need: `access`, on fixed `schemas` or, when empty, on the schema the call names (`source` says
    where: `path:schema`, `path:ns/name`, `query:schema`, `body`, `record`, `run`)."""

    access: Access
    schemas: tuple[str, ...] = ()
    source: str | None = None
    note: str = ""

    def describe(self) -> str:
        """`read nms:subscription, nms:recipient`, `write <path:schema>`, `admin`, …: for docs and messages."""
        if self.access in (Access.READ, Access.WRITE):
            target = ", ".join(self.schemas) if self.schemas else f"<{self.source}>"
            return f"{self.access.value} {target}"
        return str(self.access.value)


def public(note: str = "") -> Rule:
    """No session needed."""
    return Rule(Access.PUBLIC, note=note)


def session(note: str = "") -> Rule:
    """Any logged-on operator."""
    return Rule(Access.SESSION, note=note)


def admin(note: str = "") -> Rule:
    """The admin right."""
    return Rule(Access.ADMIN, note=note)


def read(*schemas: str, source: str | None = None, note: str = "") -> Rule:
    """Read right on `schemas` (or on the schema named at `source`)."""
    return Rule(Access.READ, tuple(schemas), source, note)


def write(*schemas: str, source: str | None = None, note: str = "") -> Rule:
    """Write right on `schemas` (or on the schema named at `source`)."""
    return Rule(Access.WRITE, tuple(schemas), source, note)


def _holds(held: frozenset[str], schema_id: str) -> bool:
    base = schema_id[:-3] if schema_id.endswith("Stg") else schema_id
    return base in held or f"{base}Stg" in held


def can(operator: Operator | None, access: Access, schema_id: str | None = None) -> bool:
    """True when `operator` has `access` (on `schema_id` for READ / WRITE); disabled operators have nothing."""
    if access is Access.PUBLIC:
        return True
    if operator is None or operator.disabled:
        return False
    if operator.admin or access is Access.SESSION:
        return True
    if access is Access.ADMIN or schema_id is None:
        return False
    if access is Access.WRITE:
        return _holds(operator.schemas, schema_id)
    if access is Access.READ:
        return _holds(operator.schemas, schema_id) or _holds(operator.read_schemas, schema_id)
    return False


def can_read(operator: Operator, schema_id: str) -> bool:
    """Read right (a write right includes it)."""
    return can(operator, Access.READ, schema_id)


def can_write(operator: Operator, schema_id: str) -> bool:
    """Write right (ingest, subscribe, start its sync)."""
    return can(operator, Access.WRITE, schema_id)


def refusal(operator: Operator, access: Access, schema_id: str | None, code: Code | None = None,
            what: str | None = None) -> AuthError:
    """The 403 naming the right that is missing and how to get it."""
    if access is Access.ADMIN or schema_id is None:
        need = "the admin right"
        hint = "ask an admin (ferry operator add LOGIN --admin)"
    elif access is Access.WRITE:
        need = f"the write right on {schema_id}"
        hint = f"ferry operator add LOGIN --schema {schema_id}"
    else:
        need = f"the read right on {schema_id}"
        hint = f"ferry operator add LOGIN --read {schema_id} (or --schema)"
    action = f" to {what}" if what else ""
    return AuthError(code or errors.FORBIDDEN, f"operator {operator.login!r} lacks {need}{action}; {hint}",
                     http_status=403)


def require(operator: Operator, access: Access, schema_id: str | None = None, *, code: Code | None = None,
            what: str | None = None) -> None:
    """Raise the 403 of `refusal` unless `can(operator, access, schema_id)`."""
    if not can(operator, access, schema_id):
        raise refusal(operator, access, schema_id, code, what)


def require_rule(operator: Operator, rule: Rule, schema_id: str | None = None, *, code: Code | None = None,
                 what: str | None = None) -> None:
    """Check a rule: its fixed schemas, else `schema_id` (the schema the call names)."""
    if rule.access in (Access.PUBLIC, Access.SCRAPE):
        return
    if rule.access in (Access.SESSION, Access.ADMIN):
        require(operator, rule.access, None, code=code, what=what)
        return
    for target in rule.schemas or (schema_id,):
        require(operator, rule.access, target, code=code, what=what)


def visible(operator: Operator, schema_ids: list[str]) -> list[str]:
    """The schemas of `schema_ids` this operator may read (all of them for an admin)."""
    return [schema_id for schema_id in schema_ids if can_read(operator, schema_id)]
