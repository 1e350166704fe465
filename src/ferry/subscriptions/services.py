"""Information services, kept in staging (`ferry.services`, the source of truth) and mirrored to the warehouse."""

from __future__ import annotations

import re
from dataclasses import dataclass

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from ferry import errors
from ferry.errors import FerryError

# Campaign's nms:service iType.
CHANNELS = {"email": 0, "sms": 1, "phone": 2, "mail": 3, "fax": 4}
CHANNEL_NAMES = {v: k for k, v in CHANNELS.items()}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Service:
    """One service: internal name, label, channel (0..4), validity in days (None = forever), disabled flag."""

    id: int
    name: str
    label: str
    channel: int
    validity_days: int | None
    disabled: bool

    @property
    def channel_name(self) -> str:
        """`email`, `sms`, `phone`, `mail` or `fax`."""
        return CHANNEL_NAMES.get(self.channel, str(self.channel))

    def to_dict(self) -> dict[str, object]:
        """The JSON view."""
        return {"name": self.name, "label": self.label, "channel": self.channel_name,
                "validityDays": self.validity_days, "disabled": self.disabled}


def channel_code(channel: str | int) -> int:
    """`email` / `sms` / … or 0..4 → the iType; FRY-110004 otherwise."""
    if isinstance(channel, int) or channel.isdigit():
        code = int(channel)
        if code in CHANNEL_NAMES:
            return code
    elif channel.lower() in CHANNELS:
        return CHANNELS[channel.lower()]
    raise FerryError(errors.BAD_SERVICE, f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}")


def _row(row: dict[str, object]) -> Service:
    validity = row["validity_days"]
    return Service(int(str(row["id"])), str(row["name"]), str(row["label"]), int(str(row["channel"])),
                   int(str(validity)) if validity is not None else None, bool(row["disabled"]))


def add(pool: ConnectionPool, name: str, *, label: str = "", channel: str | int = "email",
        validity_days: int | None = None) -> Service:
    """Create a service; FRY-110003 when the name is taken, FRY-110004 when a field is invalid."""
    if not _NAME.match(name):
        raise FerryError(errors.BAD_SERVICE, f"service name {name!r} is invalid: letters, digits, _ . - "
                         "(64 at most, not starting with a digit)")
    if validity_days is not None and validity_days <= 0:
        raise FerryError(errors.BAD_SERVICE, "the validity must be a positive number of days")
    code = channel_code(channel)
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("INSERT INTO ferry.services (name, label, channel, validity_days) VALUES (%s, %s, %s, %s) "
                          "ON CONFLICT (name) DO NOTHING RETURNING *", (name, label or name, code, validity_days)
                          ).fetchone()
    if row is None:
        raise FerryError(errors.SERVICE_EXISTS, f"a service named {name!r} already exists")
    return _row(row)


def all_services(pool: ConnectionPool) -> list[Service]:
    """Every service, by name."""
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        return [_row(r) for r in cur.execute("SELECT * FROM ferry.services ORDER BY name").fetchall()]


def get(pool: ConnectionPool, name: str) -> Service:
    """One service by name; FRY-110001 when unknown."""
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM ferry.services WHERE name = %s", (name,)).fetchone()
    if row is None:
        raise FerryError(errors.SERVICE_UNKNOWN, f"no service named {name!r}; see `ferry service list`")
    return _row(row)


def set_disabled(pool: ConnectionPool, name: str, disabled: bool = True) -> Service:
    """Disable (or enable again) a service: new requests for it are refused; subscriptions stay."""
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("UPDATE ferry.services SET disabled = %s WHERE name = %s RETURNING *",
                          (disabled, name)).fetchone()
    if row is None:
        raise FerryError(errors.SERVICE_UNKNOWN, f"no service named {name!r}; see `ferry service list`")
    return _row(row)


def split_names(text: str | None) -> list[str]:
    """`"a, b,,a"` → `["a", "b"]` (Campaign's comma-separated service list, duplicates dropped)."""
    names: list[str] = []
    for part in (text or "").split(","):
        part = part.strip()
        if part and part not in names:
            names.append(part)
    return names


def require_active(pool: ConnectionPool, names: list[str], *, allow_disabled: bool = False) -> list[Service]:
    """The named services, in order; FRY-110001 for an unknown one, FRY-110002 for a disabled one (unless allowed:
    unsubscribing from a disabled service is fine)."""
    found: list[Service] = []
    for name in names:
        service = get(pool, name)
        if service.disabled and not allow_disabled:
            raise FerryError(errors.SERVICE_DISABLED, f"service {name!r} is disabled and takes no new requests")
        found.append(service)
    return found
