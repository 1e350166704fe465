"""Reads on the warehouse: who is subscribed to a service now, and a recipient's subscription history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ferry.warehouse.base import Warehouse


def _sql(warehouse: Warehouse, text: str) -> str:
    return text.replace("?", "%s") if warehouse.dialect == "postgres" else text


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime | dt.date) else value


def subscribers(warehouse: Warehouse, service: str, *, limit: int = 1000, offset: int = 0) -> list[dict[str, Any]]:
    """The recipients subscribed to `service` now: id, email, subscription date and expiry, oldest first."""
    try:
        rows = warehouse.select(_sql(warehouse, (
            'SELECT s."recipientId", r."email", s."created", s."expirationDate" FROM nms_subscription s '
            'LEFT JOIN nms_recipient r ON r."id" = s."recipientId" WHERE s."serviceName" = ? '
            'ORDER BY s."created", s."recipientId" LIMIT ? OFFSET ?')), [service, limit, offset])
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
        where, param = 'h."recipientId" IN (SELECT "id" FROM nms_recipient WHERE "email" = ?)', email or ""
    query = ('SELECT h."recipientId", h."serviceName", h."action", h."date", h."origin", h."requestId" '
             'FROM nms_subhisto h WHERE ' + where + ' ORDER BY h."date", h."serviceName", h."id"')
    try:
        rows = warehouse.select(_sql(warehouse, query), [param])
    except Exception:  # no sync has created the tables yet: no history
        return []
    return [{"recipientId": r[0], "service": r[1], "action": "subscribe" if r[2] == 1 else "unsubscribe",
             "date": _iso(r[3]), "origin": r[4], "requestId": r[5]} for r in rows]
