"""Derivation of the staging schema `<ns>:<name>Stg` from a staged source schema."""

from __future__ import annotations

from dataclasses import replace

from ferry import errors
from ferry.errors import FerryError
from ferry.schema.model import ID_ATTRIBUTE, Attribute, DbIndex, Key, Schema
from ferry.schema.types import AttrType


def with_internal_id(schema: Schema) -> Schema:
    """The schema with its internal `id` (uuid) key first, as Campaign adds it for autouuid schemas.

    ferry gives every staged schema one: a record inserted from a staged row keeps that row's UUID as `id`.
    """
    if schema.attribute(ID_ATTRIBUTE) is not None:
        return schema
    id_attr = Attribute(
        name=ID_ATTRIBUTE,
        type=AttrType.UUID,
        sqlname=f"u{schema.name[:1].upper()}{schema.name[1:]}Id",
        label="Internal primary key",
    )
    keys = schema.keys
    if not any(key.fields == (ID_ATTRIBUTE,) for key in keys):
        keys = (Key(name="id", fields=(ID_ATTRIBUTE,), internal=True), *keys)
    return replace(schema.with_attributes((id_attr, *schema.attributes)), keys=keys)


def derive_staging_schema(source: Schema) -> Schema:
    """The generated staging schema, as Campaign shows it: same namespace, name + `Stg`, local table."""
    if source.staging_source is not None:
        raise FerryError(errors.STAGING_OF_STAGING, f"{source.id} is itself a staging schema and cannot be staged")
    if not source.auto_stg:
        raise FerryError(errors.SCHEMA_NOT_STAGED, f"{source.id} has no autoStg=\"true\" on its main element")
    base = with_internal_id(source)
    system = (
        Attribute(name="delete", type=AttrType.BOOLEAN, default="false", sqlname="iDelete"),
        Attribute(name="lastModified", type=AttrType.DATETIME, default="GetDate()", sqlname="tsLastModified",
                  label="Modification date"),
    )
    staging = replace(
        base,
        name=source.name + "Stg",
        label=f"{source.label or source.name} (Staging)",
        auto_stg=False,
        data_source=None,
        staging_source=source.id,
        indexes=(
            DbIndex(name="id", fields=(ID_ATTRIBUTE,), unique=True),
            DbIndex(name="lastModifiedStg", fields=("lastModified",)),
        ),
        keys=(Key(name="id", fields=(ID_ATTRIBUTE,), internal=True),),
        source_xml="",
    )
    return staging.with_attributes((*base.attributes, *system))
