"""The typed model of a Campaign source schema."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ferry.schema.types import SQL_PREFIX, AttrType

ID_ATTRIBUTE = "id"


@dataclass(frozen=True)
class Attribute:
    """One `<attribute>` of a schema's main element."""

    name: str
    type: AttrType
    length: int | None = None
    not_null: bool = False
    default: str | None = None
    sqlname: str = ""
    label: str | None = None
    # The `<enumeration>` naming this attribute's values (`enum="gender"`), declared by the same schema.
    enum: str | None = None

    def __post_init__(self) -> None:
        if not self.sqlname:
            object.__setattr__(self, "sqlname", SQL_PREFIX[self.type] + self.name[:1].upper() + self.name[1:])


@dataclass(frozen=True)
class EnumValue:
    """One `<value name label value/>` of an enumeration."""

    name: str
    label: str
    value: str


@dataclass(frozen=True)
class Enumeration:
    """An `<enumeration>` of a schema: the names and labels of an attribute's values."""

    name: str
    basetype: str
    values: tuple[EnumValue, ...] = ()
    label: str = ""

    def by_value(self, value: str) -> EnumValue | None:
        """The value whose stored form is `value` (compared as text, `1` = `1.0` for numbers)."""
        for item in self.values:
            if item.value == value or _same_number(item.value, value):
                return item
        return None


def _same_number(a: str, b: str) -> bool:
    try:
        return float(a) == float(b)
    except ValueError:
        return False


@dataclass(frozen=True)
class Key:
    """A `<key>`: the attributes that identify a record."""

    name: str
    fields: tuple[str, ...]
    internal: bool = False


@dataclass(frozen=True)
class DbIndex:
    """A `<dbindex>` declared by the schema."""

    name: str
    fields: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True)
class Schema:
    """A source schema (`xtk:srcSchema`) reduced to what ingestion needs."""

    namespace: str
    name: str
    label: str = ""
    autopk: bool = False
    autouuid: bool = False
    auto_stg: bool = False
    data_source: str | None = None
    attributes: tuple[Attribute, ...] = ()
    keys: tuple[Key, ...] = ()
    indexes: tuple[DbIndex, ...] = ()
    staging_source: str | None = None
    enumerations: tuple[Enumeration, ...] = ()
    source_xml: str = field(default="", compare=False, repr=False)

    @property
    def id(self) -> str:
        """The schema id, `namespace:name`."""
        return f"{self.namespace}:{self.name}"

    @property
    def staged(self) -> bool:
        """True when ingestion calls may name this schema (`autoStg="true"`)."""
        return self.auto_stg

    @property
    def staging_id(self) -> str:
        """The id of the derived staging schema, `namespace:nameStg`."""
        return f"{self.namespace}:{self.name}Stg"

    @property
    def sql_table(self) -> str:
        """Campaign's table name convention: capitalised namespace + element name."""
        return self.namespace[:1].upper() + self.namespace[1:] + self.name[:1].upper() + self.name[1:]

    def enumeration(self, name: str) -> Enumeration | None:
        """The enumeration called `name` (or `ns:schema:name` of this schema), or None."""
        local = name.removeprefix(f"{self.id}:")
        return next((enum for enum in self.enumerations if enum.name == local), None)

    def attribute(self, name: str) -> Attribute | None:
        """The attribute called `name`, or None."""
        return self._by_name.get(name)

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """Attribute names in declaration order."""
        return tuple(attr.name for attr in self.attributes)

    @property
    def business_key(self) -> tuple[str, ...] | None:
        """The first non-internal key (e.g. `@email` for recipients), used by subscriptions."""
        for key in self.keys:
            if not key.internal:
                return key.fields
        return None

    @property
    def _by_name(self) -> dict[str, Attribute]:
        cached: dict[str, Attribute] | None = self.__dict__.get("_attr_index")
        if cached is None:
            cached = {attr.name: attr for attr in self.attributes}
            object.__setattr__(self, "_attr_index", cached)
        return cached

    def with_attributes(self, attributes: tuple[Attribute, ...]) -> Schema:
        """A copy with other attributes (used when deriving)."""
        copy = replace(self, attributes=attributes)
        copy.__dict__.pop("_attr_index", None)
        return copy
