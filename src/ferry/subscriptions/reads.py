"""Reads on the warehouse: who is subscribed to a service now, and a recipient's subscription history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ferry.warehouse.base import Warehouse
from ferry.warehouse.snowflake_nulls import flag_name

# Table names are quoted: Snowflake folds unquoted names to upper case, and ferry creates its tables in lower case.


def _sql(warehouse: Warehouse, text: str) -> str:
    return text.replace("?", "%s") if warehouse.dialect in ("postgres", "snowflake") else text


def _null_flags(warehouse: Warehouse, *stamps: tuple[str, str]) -> str:
    """Snowflake: a NULL flag beside each timestamp (expression, output name); see `ferry.warehouse.snowflake_nulls`."""
    if warehouse.dialect != "snowflake":
        return ""
    return "".join(f', {expr} IS NULL AS "{flag_name(name)}"' for expr, name in stamps)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime | dt.date) else value


def subscribers(warehouse: Warehouse, service: str, *, limit: int = 1000, offset: int = 0) -> list[dict[str, Any]]:
    """The recipients subscribed to `service` now: id, email, subscription date and expiry, oldest first."""
    flags = _null_flags(warehouse, ('s."created"', "created"), ('s."expirationDate"', "expirationDate"))
    query = ('SELECT s."recipientId", r."email", s."created" AS "created", '  # noqa: S608
             f's."expirationDate" AS "expirationDate"{flags} FROM "nms_subscription" s '
             'LEFT JOIN "nms_recipient" r ON r."id" = s."recipientId" '
             'WHERE s."serviceName" = ? ORDER BY s."created", s."recipientId" LIMIT ? OFFSET ?')
    try:
        rows = warehouse.select(_sql(warehouse, query), [service, limit, offset])
    except Exception:  # no sync has created the tables yet: nobody is subscribed
        return []
    return [{"recipientId": r[0], "email": r[1], "subscribedAt": _iso(r[2]), "expires": _iso(r[3])} for r in rows]


def history(warehouse: Warehouse, *, email: str | None = None, recipient_id: str | None = None) -> list[dict[str, Any]]:
    """Every applied event of the recipient(s) with that email (or id), in date order, with action and origin.

    Events of one call share its date; they come by service name.
    """
    if recipient_id is not None:
        where, param = 'h."recipientId" = ?', recipient_id
    else:
        where, param = 'h."recipientId" IN (SELECT "id" FROM "nms_recipient" WHERE "email" = ?)', email or ""
    flags = _null_flags(warehouse, ('h."date"', "date"))
    query = ('SELECT h."recipientId", h."serviceName", h."action", h."date" AS "date", h."origin", '  # noqa: S608
             f'h."requestId"{flags} FROM "nms_subhisto" h WHERE {where} ORDER BY h."date", h."serviceName", h."id"')
    try:
        rows = warehouse.select(_sql(warehouse, query), [param])
    except Exception:  # no sync has created the tables yet: no history
        return []
    return [{"recipientId": r[0], "service": r[1], "action": "subscribe" if r[2] == 1 else "unsubscribe",
             "date": _iso(r[3]), "origin": r[4], "requestId": r[5]} for r in rows]
