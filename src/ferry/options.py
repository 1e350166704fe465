"""Campaign options (`xtk:option`): ferry's own read-only ones and those clients set, kept in staging.

Any caller reads an option the way `xtk:session#GetOption` answers it: `read_option(conn, name)` (a staging
connection) gives `(value text, Campaign data type)`, `("", 0)` for an unknown option. ferry's own options
(`XtkDatabaseId`, `NmsServer_LastPostUpgrade`, `XtkInstanceName`) come from code and cannot be written; the others
live in `ferry.options`, written by `Write` with `xtkschema="xtk:option"` (what `client.setOption` sends).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import psycopg
from lxml import etree
from psycopg import sql

from ferry import errors
from ferry.auth.models import AuthError, Operator
from ferry.errors import FerryError
from ferry.schema.model import Attribute, Key, Schema
from ferry.schema.types import AttrType, coerce, to_text

SCHEMA_ID = "xtk:option"
TABLE = "ferry.options"
# The server's identity, as serverInfo and these options give it.
BUILD_NUMBER = "9999"
DATABASE_ID = "ferry"
INSTANCE_NAME = "ferry"
MAX_NAME = 64


class DataType(IntEnum):
    """Campaign's option data types (the `dataType` attribute and GetOption's `type` output)."""

    NONE = 0
    BYTE = 1
    SHORT = 2
    LONG = 3
    FLOAT = 4
    DOUBLE = 5
    STRING = 6
    DATETIME = 7
    DATE = 10
    MEMO = 12
    MEMOSHORT = 13
    BOOLEAN = 15


# Where each data type keeps its value, as Campaign's xtk:option (and the SDK's XtkCaster) store it.
STORAGE: dict[DataType, str] = {
    DataType.BYTE: "longValue", DataType.SHORT: "longValue", DataType.LONG: "longValue",
    DataType.BOOLEAN: "longValue", DataType.FLOAT: "doubleValue", DataType.DOUBLE: "doubleValue",
    DataType.STRING: "stringValue", DataType.DATETIME: "timeStampValue", DataType.DATE: "timeStampValue",
    DataType.MEMO: "memoValue", DataType.MEMOSHORT: "memoValue",
}
VALUE_COLUMNS = ("stringValue", "longValue", "doubleValue", "timeStampValue", "memoValue")

# ferry's own options: read-only, always present (type string).
READ_ONLY: dict[str, str] = {
    "XtkDatabaseId": DATABASE_ID,
    "NmsServer_LastPostUpgrade": BUILD_NUMBER,
    "XtkInstanceName": INSTANCE_NAME,
}

SCHEMA = Schema(
    namespace="xtk", name="option", label="Options", autopk=True,
    attributes=(
        Attribute("id", AttrType.INT64, label="Primary key", sqlname="iOptionId"),
        Attribute("name", AttrType.STRING, MAX_NAME, not_null=True, label="Name", sqlname="sName"),
        Attribute("dataType", AttrType.BYTE, label="Data type", sqlname="iDataType"),
        Attribute("stringValue", AttrType.STRING, 255, label="String value", sqlname="sStringValue"),
        Attribute("longValue", AttrType.INT64, label="Integer value", sqlname="iLongValue"),
        Attribute("doubleValue", AttrType.DOUBLE, label="Numeric value", sqlname="dDoubleValue"),
        Attribute("timeStampValue", AttrType.DATETIME, label="Date value", sqlname="tsTimeStampValue"),
        Attribute("memoValue", AttrType.MEMO, label="Text value", sqlname="mMemoValue"),
        Attribute("description", AttrType.STRING, 255, label="Description", sqlname="sDescription"),
        Attribute("created", AttrType.DATETIME, label="Creation date", sqlname="tsCreated"),
        Attribute("lastModified", AttrType.DATETIME, label="Last modified", sqlname="tsLastModified"),
    ),
    keys=(Key("name", ("name",)), Key("id", ("id",), internal=True)),
)
_COLUMNS = SCHEMA.attribute_names
_OPERATIONS = ("insertOrUpdate", "insert", "update", "delete")


@dataclass(frozen=True)
class Option:
    """One option as GetOption answers it: its value as text and its data type (0 when unknown)."""

    name: str
    value: str
    data_type: int
    read_only: bool = False


def _value_text(data_type: int, row: dict[str, Any]) -> str:
    try:
        column = STORAGE[DataType(data_type)]
    except ValueError:
        column = "stringValue"
    value = row.get(column)
    if value is None:
        return ""
    if data_type == DataType.BOOLEAN:
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return to_text(AttrType.DATETIME, value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_option(conn: psycopg.Connection[Any], name: str) -> Option:
    """The option `name` as GetOption answers it; `Option(name, "", 0)` when there is none."""
    name = name.strip()
    if name in READ_ONLY:
        return Option(name, READ_ONLY[name], DataType.STRING, read_only=True)
    if not name or len(name) > MAX_NAME:
        return Option(name, "", DataType.NONE)
    cursor = conn.cursor(row_factory=psycopg.rows.dict_row)
    statement = sql.SQL('SELECT "dataType", {} FROM {} WHERE "name" = %s').format(
        sql.SQL(", ").join(sql.Identifier(c) for c in VALUE_COLUMNS), sql.SQL(TABLE))
    row = cursor.execute(statement, (name,)).fetchone()
    if row is None:
        return Option(name, "", DataType.NONE)
    return Option(name, _value_text(int(row["dataType"]), row), int(row["dataType"]))


def _bad(message: str) -> FerryError:
    return FerryError(errors.OPTION_REFUSED, message)


def _data_type(text: str | None) -> DataType:
    if text is None or text.strip() == "":
        return DataType.STRING
    try:
        return DataType(int(text.strip()))
    except ValueError:
        known = ", ".join(f"{t.value} ({t.name.lower()})" for t in DataType if t in STORAGE)
        raise _bad(f"dataType {text.strip()[:20]!r} is not an option type; use one of {known}") from None


_COERCE_TYPES: dict[str, AttrType] = {"stringValue": AttrType.STRING, "longValue": AttrType.INT64,
                                      "doubleValue": AttrType.DOUBLE, "timeStampValue": AttrType.DATETIME,
                                      "memoValue": AttrType.MEMO}


def _values(record: etree._Element, data_type: DataType) -> dict[str, Any]:
    """The value columns the record sets, converted to their storage types (a boolean is 0 / 1)."""
    values: dict[str, Any] = {}
    for column in VALUE_COLUMNS:
        text = record.get(column)
        if text is None:
            child = next((c for c in record if isinstance(c.tag, str) and etree.QName(c).localname == column), None)
            text = child.text if child is not None else None
        if text is None:
            continue
        if column == "longValue" and data_type == DataType.BOOLEAN and text.strip().lower() in ("true", "false"):
            text = "1" if text.strip().lower() == "true" else "0"
        length = 255 if column == "stringValue" else None
        try:
            values[column] = None if text == "" else coerce(_COERCE_TYPES[column], text, length)
        except FerryError as exc:
            raise _bad(f"option {record.get('name')!r}: {column}: {exc.message}") from None
    return values


def write_option(conn: psycopg.Connection[Any], record: etree._Element, operator: str) -> str:
    """Apply one `<option …/>` record of a Write (`_key="@name"`, the only key); returns the option's name.

    `_operation`: insertOrUpdate (default), insert (refused when it exists), update (silent when missing), delete.
    ferry's own options are read-only (FRY-400032)."""
    name = (record.get("name") or "").strip()
    if not name:
        raise _bad("an option record needs its name attribute (the key of xtk:option)")
    if len(name) > MAX_NAME:
        raise _bad(f"option name {name[:20]!r}… is longer than {MAX_NAME} characters")
    key = (record.get("_key") or "@name").replace(" ", "")
    if key != "@name":
        raise _bad(f"xtk:option records are reconciled on @name; _key {key[:40]!r} is not supported")
    if name in READ_ONLY:
        raise FerryError(errors.OPTION_READ_ONLY, f"option {name} is ferry's own and read-only")
    operation = record.get("_operation") or "insertOrUpdate"
    if operation not in _OPERATIONS:
        raise _bad(f"_operation {operation[:20]!r} is not one of {', '.join(_OPERATIONS)}")
    table = sql.SQL(TABLE)
    if operation == "delete":
        conn.execute(sql.SQL('DELETE FROM {} WHERE "name" = %s').format(table), (name,))
        return name
    data_type = _data_type(record.get("dataType"))
    values = _values(record, data_type)
    description = record.get("description")
    if description is not None:
        values["description"] = description[:255]
    columns = {"dataType": int(data_type), **values}
    if operation == "update":
        assignments = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in columns)
        conn.execute(sql.SQL('UPDATE {} SET {}, "lastModified" = now(), "modifiedBy" = %s WHERE "name" = %s')
                     .format(table, assignments), (*columns.values(), operator, name))
        return name
    names = ["name", *columns, "modifiedBy"]
    insert = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        table, sql.SQL(", ").join(sql.Identifier(c) for c in names), sql.SQL(", ").join(sql.Placeholder() * len(names)))
    params = (name, *columns.values(), operator)
    if operation == "insert":
        try:
            conn.execute(insert, params)
        except psycopg.errors.UniqueViolation:
            raise FerryError(errors.OPTION_REFUSED, f"option {name} already exists (use insertOrUpdate)") from None
        return name
    updates = sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c))
                                 for c in [*columns, "modifiedBy"])
    conn.execute(sql.SQL('{} ON CONFLICT ("name") DO UPDATE SET {}, "lastModified" = now()').format(insert, updates),
                 params)
    return name


def store_options(pool: Any, document: etree._Element, operator: Operator) -> list[str]:
    """Store the `<option>` records of a Write / WriteCollection, all or none (admins only): what SOAP and
    workflow scripts run for a document whose `xtkschema` is `xtk:option`; returns the options' names."""
    if not operator.admin:
        raise AuthError(errors.FORBIDDEN, f"operator {operator.login!r} may not set options (admins only)",
                        http_status=403)
    records = option_records(document)
    if not records:
        raise FerryError(errors.EMPTY_CALL, "the xtk:option document holds no <option> record")
    with pool.connection() as conn, conn.transaction():
        return [write_option(conn, record, operator.login) for record in records]


def option_records(document: etree._Element) -> list[etree._Element]:
    """The `<option>` records of a Write / WriteCollection document (one record, or a collection of them)."""
    children = [child for child in document if isinstance(child.tag, str)]
    if etree.QName(document).localname == "option" and not any(
            etree.QName(c).localname == "option" for c in children):
        return [document]
    return [child for child in children if etree.QName(child).localname == "option"]


def query_table(conn: psycopg.Connection[Any]) -> str:
    """The SQL a queryDef on xtk:option reads: the stored options and ferry's own (their values are constants)."""
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in _COLUMNS)
    parts = [sql.SQL("SELECT {} FROM {}").format(columns, sql.SQL(TABLE))]
    for index, (name, value) in enumerate(sorted(READ_ONLY.items())):
        literals: dict[str, Any] = {"id": -(index + 1), "name": name, "dataType": int(DataType.STRING),
                                    "stringValue": value}
        cells = [sql.SQL("CAST({} AS {}) AS {}").format(sql.Literal(literals.get(column)),
                                                       sql.SQL(_PG_TYPES[column]), sql.Identifier(column))
                 for column in _COLUMNS]
        parts.append(sql.SQL("SELECT {}").format(sql.SQL(", ").join(cells)))
    union = sql.SQL(" UNION ALL ").join(parts)
    return sql.SQL("({}) AS {}").format(union, sql.Identifier("option")).as_string(conn)


_PG_TYPES = {"id": "bigint", "name": "varchar", "dataType": "smallint", "stringValue": "varchar",
             "longValue": "bigint", "doubleValue": "double precision", "timeStampValue": "timestamptz",
             "memoValue": "text", "description": "varchar", "created": "timestamptz", "lastModified": "timestamptz"}
