"""Campaign srcSchema XML → typed model; staging-schema derivation; built-in schemas."""

from ferry.schema.loader import builtin_schemas, load_schema_file, parse_schema
from ferry.schema.model import ID_ATTRIBUTE, Attribute, DbIndex, Key, Schema
from ferry.schema.registry import SchemaRegistry
from ferry.schema.staging import derive_staging_schema, with_internal_id
from ferry.schema.types import AttrType

__all__ = [
    "ID_ATTRIBUTE",
    "AttrType",
    "Attribute",
    "DbIndex",
    "Key",
    "Schema",
    "SchemaRegistry",
    "builtin_schemas",
    "derive_staging_schema",
    "load_schema_file",
    "parse_schema",
    "with_internal_id",
]
