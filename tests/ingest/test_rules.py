"""The Ingest / IngestExt rules of DESIGN.md §3, applied at the door."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ferry.errors import FerryError
from ferry.ingest import Method, Op, build_call, records_from_json, records_from_xml_bytes
from ferry.schema import SchemaRegistry, builtin_schemas, parse_schema

COMPOSITE = """<srcSchema namespace="cus" name="order"><element name="order" autoStg="true">
<attribute name="shop" type="string" length="8"/><attribute name="number" type="long"/>
<attribute name="amount" type="double"/><attribute name="note" type="memo"/>
<attribute name="day" type="date" notNull="true"/>
</element></srcSchema>"""


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry([*builtin_schemas(), parse_schema(COMPOSITE)])


def call(registry: SchemaRegistry, method: Method, doc: Any) -> Any:
    records = records_from_xml_bytes(doc) if isinstance(doc, str) else records_from_json(doc)
    return build_call(registry, method, records)


def refusal(registry: SchemaRegistry, method: Method, doc: Any) -> FerryError:
    with pytest.raises(FerryError) as info:
        call(registry, method, doc)
    return info.value


def test_ingest_without_key_is_a_new_record_keyed_by_its_staged_uuid(registry: SchemaRegistry) -> None:
    accepted = call(registry, Method.INGEST, '<recipient xtkschema="nms:recipientStg" email="a@x.com"/>')
    (op,) = accepted.operations
    assert op.op is Op.INSERT and op.key is None
    assert op.values == {"email": "a@x.com", "id": str(op.uuid)}
    assert accepted.result == str(op.uuid)
    assert uuid.UUID(accepted.result)


def test_ingest_with_key_is_insert_if_absent_and_returns_empty(registry: SchemaRegistry) -> None:
    accepted = call(registry, Method.INGEST, {"xtkschema": "nms:recipient", "_key": "@email", "email": "b@x.com"})
    (op,) = accepted.operations
    assert op.op is Op.INSERT and op.key == ("email",)
    assert op.values["id"] == str(op.uuid)
    assert accepted.result == ""


def test_ingest_with_caller_id_keeps_it(registry: SchemaRegistry) -> None:
    accepted = call(registry, Method.INGEST, {"xtkschema": "nms:recipient", "_key": "@id", "id": "ABDCD321"})
    assert accepted.operations[0].values["id"] == "ABDCD321"
    assert accepted.result == ""


def test_ingest_refuses_other_operations(registry: SchemaRegistry) -> None:
    error = refusal(registry, Method.INGEST, {"xtkschema": "nms:recipient", "_operation": "delete", "email": "x"})
    assert error.code.code == "FRY-100010"


@pytest.mark.parametrize(
    ("operation", "expected"),
    [(None, Op.INSERT_OR_UPDATE), ("insertOrUpdate", Op.INSERT_OR_UPDATE), ("update", Op.UPDATE),
     ("delete", Op.DELETE), ("insert", Op.INSERT)],
)
def test_ingest_ext_operations(registry: SchemaRegistry, operation: str | None, expected: Op) -> None:
    doc: dict[str, Any] = {"xtkschema": "nms:recipient", "_key": "@email", "email": "c@x.com", "firstName": "C"}
    if operation:
        doc["_operation"] = operation
    (op,) = call(registry, Method.INGEST_EXT, doc).operations
    assert op.op is expected
    assert op.key == ("email",)


def test_ingest_ext_returns_nothing_useful_and_keeps_partial_values(registry: SchemaRegistry) -> None:
    accepted = call(registry, Method.INGEST_EXT,
                    '<recipient xtkschema="nms:recipient" _key="@email" email="d@x.com" lastName=""/>')
    (op,) = accepted.operations
    # Only what the document carried: absent attributes stay untouched, present-but-empty sets empty.
    assert op.values == {"email": "d@x.com", "lastName": ""}
    assert accepted.result == ""


def test_ingest_ext_empty_value_of_a_typed_attribute_is_null(registry: SchemaRegistry) -> None:
    (op,) = call(registry, Method.INGEST_EXT, {"xtkschema": "nms:recipient", "_key": "@email", "email": "e@x",
                                               "birthDate": ""}).operations
    assert op.values["birthDate"] is None


def test_delete_keeps_only_the_key(registry: SchemaRegistry) -> None:
    (op,) = call(registry, Method.INGEST_EXT, {"xtkschema": "nms:recipient", "_key": "@email", "_operation": "delete",
                                               "email": "f@x.com", "firstName": "ignored"}).operations
    assert op.values == {"email": "f@x.com"}


def test_ingest_ext_without_key_uses_the_id(registry: SchemaRegistry) -> None:
    (op,) = call(registry, Method.INGEST_EXT, {"xtkschema": "nms:recipient", "id": "R1", "firstName": "G"}).operations
    assert op.key == ("id",)


def test_ingest_ext_without_key_or_id_is_refused(registry: SchemaRegistry) -> None:
    error = refusal(registry, Method.INGEST_EXT, {"xtkschema": "nms:recipient", "email": "h@x.com"})
    assert error.code.code == "FRY-100011"


def test_composite_keys(registry: SchemaRegistry) -> None:
    (op,) = call(registry, Method.INGEST_EXT, {"xtkschema": "cus:order", "_key": "@shop, @number", "shop": "S1",
                                               "number": "7", "amount": "9.5"}).operations
    assert op.key == ("shop", "number")
    assert op.values == {"shop": "S1", "number": 7, "amount": 9.5}


def test_composite_key_with_a_missing_part_is_refused(registry: SchemaRegistry) -> None:
    error = refusal(registry, Method.INGEST_EXT, {"xtkschema": "cus:order", "_key": "@shop,@number", "shop": "S1"})
    assert error.code.code == "FRY-100008"
    assert error.attribute == "number"
    assert error.position == 1


@pytest.mark.parametrize(
    ("doc", "code", "attribute"),
    [
        ({"xtkschema": "nms:recipient", "nickname": "x"}, "FRY-100005", "nickname"),
        ({"xtkschema": "nms:recipient", "gender": "lots"}, "FRY-100006", "gender"),
        ({"xtkschema": "nms:recipient", "email": "x" * 129}, "FRY-100007", "email"),
        ({"xtkschema": "nms:nothere", "email": "x"}, "FRY-100003", None),
        ({"email": "x"}, "FRY-100002", None),
        ({"xtkschema": "nms:recipient", "_key": "@nope", "email": "x"}, "FRY-100009", "nope"),
        ({"xtkschema": "nms:recipient", "_key": "email", "email": "x"}, "FRY-100009", None),
        ({"xtkschema": "nms:recipient", "_key": "@email", "email": ""}, "FRY-100008", "email"),
        ({"xtkschema": "nms:recipient", "email": {"nested": 1}}, "FRY-100005", "email"),
        ({"xtkschema": "cus:order", "day": ""}, "FRY-100013", "day"),
        ({"xtkschema": "nms:recipient", "email'; DROP TABLE x; --": "v"}, "FRY-100005",
         "email'; DROP TABLE x; --"),
    ],
)
def test_each_refusal_names_code_position_and_attribute(
    registry: SchemaRegistry, doc: dict[str, Any], code: str, attribute: str | None
) -> None:
    error = refusal(registry, Method.INGEST, doc)
    assert error.code.code == code
    assert error.position == 1
    assert error.attribute == attribute
    assert error.text.startswith(code + " Record 1:")


def test_bad_operation_on_ingest_ext(registry: SchemaRegistry) -> None:
    error = refusal(registry, Method.INGEST_EXT, {"xtkschema": "nms:recipient", "_key": "@email", "email": "x",
                                                  "_operation": "upsert"})
    assert error.code.code == "FRY-100010"


def test_xml_collection_is_one_call_in_document_order(registry: SchemaRegistry) -> None:
    doc = ('<recipient-collection xtkschema="nms:recipient">'
           '<recipient email="1@x"/><recipient email="2@x"/><recipient email="3@x"/></recipient-collection>')
    accepted = call(registry, Method.INGEST, doc)
    assert [op.values["email"] for op in accepted.operations] == ["1@x", "2@x", "3@x"]
    assert [op.position for op in accepted.operations] == [1, 2, 3]
    assert accepted.result.count(",") == 2


def test_json_array_is_a_collection_and_the_first_error_refuses_it_all(registry: SchemaRegistry) -> None:
    docs: list[dict[str, Any]] = [{"xtkschema": "nms:recipient", "email": f"{i}@x"} for i in range(1000)]
    docs[499]["gender"] = "not a number"
    error = refusal(registry, Method.INGEST, docs)
    assert error.position == 500
    assert error.attribute == "gender"


def test_one_call_targets_one_schema(registry: SchemaRegistry) -> None:
    docs = [{"xtkschema": "nms:recipient", "email": "a"}, {"xtkschema": "cus:order", "shop": "s", "day": "2024-01-01"}]
    assert refusal(registry, Method.INGEST, docs).code.code == "FRY-100014"


def test_empty_collection_is_refused(registry: SchemaRegistry) -> None:
    assert refusal(registry, Method.INGEST, []).code.code == "FRY-100012"


def test_element_values_are_accepted_for_attributes(registry: SchemaRegistry) -> None:
    accepted = call(registry, Method.INGEST,
                    '<order xtkschema="cus:order" shop="s" day="2024-01-01"><note>long &amp; text</note></order>')
    assert accepted.operations[0].values["note"] == "long & text"


@pytest.mark.parametrize(
    "doc",
    [
        '<!DOCTYPE r [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><recipient xtkschema="nms:recipient" '
        'email="&b;"/>',
        '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><recipient xtkschema="nms:recipient" email="&x;"/>',
        "<recipient xtkschema='nms:recipient' email='unclosed>",
        "<a>" * 10_000 + "</a>" * 10_000,
    ],
)
def test_hostile_xml_is_refused(registry: SchemaRegistry, doc: str) -> None:
    error = refusal(registry, Method.INGEST, doc)
    assert error.code.code in ("FRY-100001", "FRY-100016")
