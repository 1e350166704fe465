"""Read Campaign `srcSchema` XML into the typed model, refusing what Campaign refuses."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from lxml import etree

from ferry import errors
from ferry.errors import FerryError
from ferry.schema.model import Attribute, DbIndex, Enumeration, EnumValue, Key, Schema
from ferry.schema.types import DEFAULT_STRING_LENGTH, AttrType
from ferry.xmlsafe import parse_xml

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# Attribute names never start with "_": staging tables keep their bookkeeping columns there.
_ATTR_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_XPATH_ATTR = re.compile(r"^@([A-Za-z_][A-Za-z0-9_-]*)$")
_TRUE = {"true", "1"}
# Attribute names ferry uses for its own bookkeeping in staging and warehouse tables.
RESERVED_NAMES = frozenset({"created", "lastModified", "delete", "xtkschema"})


def _fail(
    origin: str, node: etree._Element | None, reason: str, code: errors.Code = errors.INVALID_SCHEMA
) -> FerryError:
    line = f":{node.sourceline}" if node is not None and node.sourceline else ""
    return FerryError(code, f"{origin}{line}: {reason}")


def _flag(node: etree._Element, name: str) -> bool:
    return (node.get(name) or "").strip().lower() in _TRUE


def load_schema_file(path: Path) -> Schema:
    """Load one schema file; errors name the file, the line and the reason."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FerryError(errors.MALFORMED_SCHEMA, f"{path}: cannot read ({exc.strerror})") from None
    return parse_schema(data, origin=str(path))


def parse_schema(data: bytes | str, *, origin: str = "<schema>") -> Schema:
    """Parse srcSchema XML text into a `Schema`."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        root = parse_xml(raw, origin=origin)
    except FerryError as exc:
        raise FerryError(errors.MALFORMED_SCHEMA, exc.message) from None
    if etree.QName(root).localname not in ("srcSchema", "schema"):
        raise _fail(origin, root, f"the root element must be <srcSchema>, not <{etree.QName(root).localname}>")
    namespace = root.get("namespace") or ""
    name = root.get("name") or ""
    for label, value in (("namespace", namespace), ("name", name)):
        if not _NAME.match(value):
            raise _fail(origin, root, f"<srcSchema> needs a {label} made of letters, digits and _ (got {value!r})")
    main = _main_element(root, name, origin)
    enumerations = _enumerations(root, origin)
    attributes = _attributes(main, origin, {enum.name for enum in enumerations}, f"{namespace}:{name}")
    names = {attr.name for attr in attributes}
    keys = _keys(main, names, origin)
    indexes = _indexes(main, names, origin)
    staging_source = root.get("stgSrcSchema") or None
    auto_stg = _flag(main, "autoStg")
    if staging_source is not None and auto_stg:
        raise _fail(origin, main, f"{namespace}:{name} is a staging schema (of {staging_source}) and cannot be "
                    "staged itself; remove autoStg", errors.STAGING_OF_STAGING)
    return Schema(
        namespace=namespace,
        name=name,
        label=main.get("label") or root.get("label") or name,
        autopk=_flag(main, "autopk"),
        autouuid=_flag(main, "autouuid"),
        auto_stg=auto_stg,
        data_source=main.get("dataSource") or None,
        attributes=tuple(attributes),
        keys=tuple(keys),
        indexes=tuple(indexes),
        staging_source=staging_source,
        enumerations=tuple(enumerations),
        source_xml=raw.decode("utf-8", errors="replace"),
    )


def _main_element(root: etree._Element, name: str, origin: str) -> etree._Element:
    for node in root:
        if isinstance(node.tag, str) and etree.QName(node).localname == "element" and node.get("name") == name:
            return node
    raise _fail(origin, root, f"no main <element name=\"{name}\"> in the schema")


def _enumerations(root: etree._Element, origin: str) -> list[Enumeration]:
    """The schema's `<enumeration name basetype><value name label value/>…</enumeration>` elements."""
    found: list[Enumeration] = []
    for node in root:
        if not isinstance(node.tag, str) or etree.QName(node).localname != "enumeration":
            continue
        name = node.get("name") or ""
        if not _NAME.match(name):
            raise _fail(origin, node, f"enumeration name {name!r} is not a valid identifier")
        if any(enum.name == name for enum in found):
            raise _fail(origin, node, f"enumeration {name!r} is declared twice")
        values: list[EnumValue] = []
        for child in node:
            if not isinstance(child.tag, str) or etree.QName(child).localname != "value":
                continue
            value_name = child.get("name") or ""
            if not _NAME.match(value_name):
                raise _fail(origin, child, f"enumeration {name!r}: value name {value_name!r} is not a valid identifier")
            stored = child.get("value")
            values.append(EnumValue(value_name, child.get("label") or value_name,
                                    stored if stored is not None else value_name))
        found.append(Enumeration(name, (node.get("basetype") or "string").strip(), tuple(values),
                                 node.get("label") or name))
    return found


def _attributes(main: etree._Element, origin: str, enums: set[str], schema_id: str) -> list[Attribute]:
    attributes: list[Attribute] = []
    seen: set[str] = set()
    for node in main:
        if not isinstance(node.tag, str) or etree.QName(node).localname != "attribute":
            continue
        name = node.get("name") or ""
        if not _ATTR_NAME.match(name):
            raise _fail(origin, node, f"attribute name {name!r} is not a valid identifier (a letter, then letters, "
                        "digits or _)")
        if name in seen:
            raise _fail(origin, node, f"attribute {name!r} is declared twice")
        if name in RESERVED_NAMES:
            raise _fail(origin, node, f"attribute name {name!r} is reserved by ferry")
        seen.add(name)
        type_text = (node.get("type") or "string").strip()
        try:
            type_ = AttrType(type_text)
        except ValueError:
            known = ", ".join(t.value for t in AttrType)
            raise _fail(origin, node, f"attribute {name!r} has unknown type {type_text!r} (known: {known})") from None
        length = _length(node, type_, name, origin)
        sqlname = node.get("sqlname") or ""
        if sqlname and not _NAME.match(sqlname):
            raise _fail(origin, node, f"sqlname {sqlname!r} of attribute {name!r} is not a valid identifier")
        enum = (node.get("enum") or "").strip() or None
        if enum is not None and ":" not in enum and enum not in enums:
            raise _fail(origin, node, f"attribute {name!r} names enumeration {enum!r}, which the schema does not "
                        "declare")
        if enum is not None and ":" in enum:
            # Another schema's enumeration (`nms:recipient:gender`): kept only when it is this schema's own.
            enum = enum.removeprefix(f"{schema_id}:") if enum.removeprefix(f"{schema_id}:") in enums else None
        attributes.append(
            Attribute(
                name=name,
                enum=enum,
                type=type_,
                length=length,
                not_null=_flag(node, "notNull"),
                default=node.get("default"),
                sqlname=sqlname,
                label=node.get("label"),
            )
        )
    return attributes


def _length(node: etree._Element, type_: AttrType, name: str, origin: str) -> int | None:
    text = node.get("length")
    if type_ is not AttrType.STRING:
        return None
    if text is None:
        return DEFAULT_STRING_LENGTH
    try:
        length = int(text)
    except ValueError:
        raise _fail(origin, node, f"attribute {name!r} has a non-numeric length {text!r}") from None
    if not 1 <= length <= 65535:
        raise _fail(origin, node, f"attribute {name!r} length must be between 1 and 65535")
    return length


def _fields(node: etree._Element, names: set[str], origin: str, what: str) -> tuple[str, ...]:
    fields: list[str] = []
    for child in node:
        if not isinstance(child.tag, str) or etree.QName(child).localname != "keyfield":
            continue
        xpath = (child.get("xpath") or "").strip()
        match = _XPATH_ATTR.match(xpath)
        if match is None:
            raise _fail(origin, child, f"{what}: keyfield xpath {xpath!r} must be an attribute path like @email")
        if match.group(1) not in names and match.group(1) != "id":
            raise _fail(origin, child, f"{what}: keyfield {xpath!r} names no attribute of the schema")
        fields.append(match.group(1))
    if not fields:
        raise _fail(origin, node, f"{what} has no <keyfield>")
    return tuple(fields)


def _keys(main: etree._Element, names: set[str], origin: str) -> list[Key]:
    keys: list[Key] = []
    for node in main:
        if isinstance(node.tag, str) and etree.QName(node).localname == "key":
            name = node.get("name") or f"key{len(keys) + 1}"
            keys.append(Key(name=name, fields=_fields(node, names, origin, f"key {name!r}"),
                            internal=_flag(node, "internal")))
    return keys


def _indexes(main: etree._Element, names: set[str], origin: str) -> list[DbIndex]:
    indexes: list[DbIndex] = []
    for node in main:
        if isinstance(node.tag, str) and etree.QName(node).localname == "dbindex":
            name = node.get("name") or f"index{len(indexes) + 1}"
            indexes.append(DbIndex(name=name, fields=_fields(node, names, origin, f"dbindex {name!r}"),
                                   unique=_flag(node, "unique")))
    return indexes


def builtin_schemas() -> list[Schema]:
    """The schemas shipped with ferry (`nms:recipient`, …)."""
    folder = resources.files("ferry.schema") / "builtin"
    found = []
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".xml"):
            found.append(parse_schema(entry.read_bytes(), origin=f"ferry/schema/builtin/{entry.name}"))
    return found
