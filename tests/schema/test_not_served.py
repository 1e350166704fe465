"""Campaign schemas ferry does not serve are refused with FRY-400030, never as an unknown schema."""

from __future__ import annotations

import pytest

from ferry import errors
from ferry.errors import FerryError
from ferry.schema import SchemaRegistry, builtin_schemas
from ferry.schema.not_served import is_campaign_schema


def test_campaign_schemas_are_refused_as_not_served() -> None:
    registry = SchemaRegistry(builtin_schemas())
    for schema_id in ("xtk:folder", "nms:deliveryMapping"):
        assert is_campaign_schema(schema_id)
        with pytest.raises(FerryError) as caught:
            registry.resolve_staged(schema_id)
        assert caught.value.code is errors.NOT_SERVED and schema_id in caught.value.message
    with pytest.raises(FerryError) as caught:
        registry.resolve_staged("cus:nothere")
    assert caught.value.code is errors.UNKNOWN_SCHEMA
    assert not is_campaign_schema("nms:recipient")
