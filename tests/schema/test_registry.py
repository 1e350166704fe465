"""Resolving the schema an ingestion call names."""

from __future__ import annotations

import pytest

from ferry.errors import FerryError
from ferry.schema import SchemaRegistry, builtin_schemas, parse_schema

PLAIN = "<srcSchema namespace='cus' name='plain'><element name='plain'><attribute name='a'/></element></srcSchema>"


@pytest.fixture
def registry() -> SchemaRegistry:
    return SchemaRegistry([*builtin_schemas(), parse_schema(PLAIN)])


def test_both_the_source_and_the_staging_id_name_the_staged_schema(registry: SchemaRegistry) -> None:
    assert registry.resolve_staged("nms:recipient").id == "nms:recipient"
    assert registry.resolve_staged("nms:recipientStg").id == "nms:recipient"


def test_staged_schemas_get_an_internal_id_first(registry: SchemaRegistry) -> None:
    schema = registry.resolve_staged("nms:recipient")
    assert schema.attribute_names[0] == "id"


@pytest.mark.parametrize(
    ("name", "code"),
    [(None, "FRY-100002"), ("", "FRY-100002"), ("nms:nothere", "FRY-100003"), ("noColon", "FRY-100003"),
     ("cus:plain", "FRY-100004"), ("cus:plainStg", "FRY-100003")],
)
def test_unknown_missing_and_unstaged_schemas_are_refused(
    registry: SchemaRegistry, name: str | None, code: str
) -> None:
    with pytest.raises(FerryError) as info:
        registry.resolve_staged(name)
    assert info.value.code.code == code
