"""The set of known schemas and the resolution of an `xtkschema` named in a call."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ferry import errors
from ferry.errors import FerryError
from ferry.schema.model import Schema
from ferry.schema.not_served import is_campaign_schema, schema_fault
from ferry.schema.staging import with_internal_id


class SchemaRegistry:
    """Known schemas by id; staged ones carry their internal `id` attribute."""

    def __init__(self, schemas: Iterable[Schema] = ()) -> None:
        self._schemas: dict[str, Schema] = {}
        for schema in schemas:
            self.add(schema)

    def add(self, schema: Schema) -> None:
        """Register (or replace) a schema."""
        self._schemas[schema.id] = with_internal_id(schema) if schema.staged else schema

    def get(self, schema_id: str) -> Schema | None:
        """The schema with exactly this id, or None."""
        return self._schemas.get(schema_id)

    def __iter__(self) -> Iterator[Schema]:
        return iter(sorted(self._schemas.values(), key=lambda schema: schema.id))

    def __len__(self) -> int:
        return len(self._schemas)

    def staged(self) -> list[Schema]:
        """Every staged schema, sorted by id."""
        return [schema for schema in self if schema.staged]

    def resolve_staged(self, xtkschema: str | None) -> Schema:
        """The staged source schema a call names, as `ns:name` or `ns:nameStg`; refuse anything else."""
        if not xtkschema:
            raise FerryError(errors.MISSING_SCHEMA, "the document has no xtkschema attribute naming its schema")
        schema_id = xtkschema.strip()
        if ":" not in schema_id:
            raise FerryError(errors.UNKNOWN_SCHEMA, f"xtkschema {schema_id!r} must look like namespace:name")
        schema = self._schemas.get(schema_id)
        if schema is None and schema_id.endswith("Stg"):
            schema = self._schemas.get(schema_id[:-3])
            if schema is not None and not schema.staged:
                schema = None
        if schema is None and is_campaign_schema(schema_id):
            raise schema_fault(schema_id)
        if schema is None:
            raise FerryError(errors.UNKNOWN_SCHEMA, f"schema {schema_id!r} is not known; apply it first "
                             "with `ferry schema apply`")
        if not schema.staged:
            raise FerryError(errors.SCHEMA_NOT_STAGED, f"schema {schema.id} is not staged: add autoStg=\"true\" "
                             "to its main element to ingest into it")
        return schema
