"""Loading srcSchema XML: attributes, keys, indexes, refusals with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry.errors import FerryError
from ferry.schema import AttrType, builtin_schemas, derive_staging_schema, load_schema_file, parse_schema

ALL_TYPES = """<srcSchema namespace="cus" name="everything" xtkschema="xtk:srcSchema">
  <element name="everything" autopk="true" autouuid="true" autoStg="true" dataSource="nms:extAccount:ffda"
           label="Every type">
    <attribute name="s" type="string" length="12" notNull="true" default="x" sqlname="sCustom"/>
    <attribute name="m" type="memo"/>
    <attribute name="u" type="uuid"/>
    <attribute name="b" type="boolean"/>
    <attribute name="by" type="byte"/>
    <attribute name="sh" type="short"/>
    <attribute name="l" type="long"/>
    <attribute name="i64" type="int64"/>
    <attribute name="d" type="double"/>
    <attribute name="f" type="float"/>
    <attribute name="dt" type="date"/>
    <attribute name="ts" type="datetime"/>
    <attribute name="tz" type="datetimetz"/>
    <attribute name="tm" type="time"/>
    <key name="business"><keyfield xpath="@s"/><keyfield xpath="@l"/></key>
    <dbindex name="byS" unique="true"><keyfield xpath="@s"/></dbindex>
  </element>
</srcSchema>"""


def test_every_attribute_type_and_property_is_read() -> None:
    schema = parse_schema(ALL_TYPES)
    assert schema.id == "cus:everything"
    assert (schema.autopk, schema.autouuid, schema.staged) == (True, True, True)
    assert schema.data_source == "nms:extAccount:ffda"
    assert schema.label == "Every type"
    types = {attr.name: attr.type for attr in schema.attributes}
    assert types == {
        "s": AttrType.STRING, "m": AttrType.MEMO, "u": AttrType.UUID, "b": AttrType.BOOLEAN, "by": AttrType.BYTE,
        "sh": AttrType.SHORT, "l": AttrType.LONG, "i64": AttrType.INT64, "d": AttrType.DOUBLE,
        "f": AttrType.FLOAT, "dt": AttrType.DATE, "ts": AttrType.DATETIME, "tz": AttrType.DATETIMETZ,
        "tm": AttrType.TIME,
    }
    s = schema.attribute("s")
    assert s is not None
    assert (s.length, s.not_null, s.default, s.sqlname) == (12, True, "x", "sCustom")
    assert schema.attribute("m") is not None and schema.attribute("m").sqlname == "mM"  # type: ignore[union-attr]
    assert schema.keys[0].fields == ("s", "l")
    assert schema.indexes[0].unique and schema.indexes[0].fields == ("s",)


def test_builtin_recipient_is_staged_with_email_key_and_optout_attributes() -> None:
    recipient = {schema.id: schema for schema in builtin_schemas()}["nms:recipient"]
    assert recipient.staged
    assert recipient.business_key == ("email",)
    for name in ("email", "firstName", "lastName", "blackList", "blackListEmail", "blackListMobile"):
        assert recipient.attribute(name) is not None, name


def test_staging_schema_is_derived_like_campaign() -> None:
    source = parse_schema(Path(__file__).parents[2].joinpath(
        "src/ferry/schema/examples/dem_sampleTable.xml").read_text())
    staging = derive_staging_schema(source)
    assert staging.id == "dem:sampleTableStg"
    assert staging.staging_source == "dem:sampleTable"
    assert not staging.staged
    assert staging.data_source is None
    assert staging.attribute_names == ("id", "testcol1", "testcol2", "delete", "lastModified")
    id_attr = staging.attribute("id")
    assert id_attr is not None and id_attr.type is AttrType.UUID and id_attr.sqlname == "uSampleTableId"
    assert staging.label == "Sample Table (Staging)"


def test_a_staging_schema_cannot_be_staged() -> None:
    text = ALL_TYPES.replace('name="everything" xtkschema', 'name="everything" stgSrcSchema="cus:x" xtkschema')
    with pytest.raises(FerryError) as info:
        parse_schema(text, origin="stg.xml")
    assert info.value.code.code == "FRY-200003"


def test_an_unstaged_schema_has_no_staging_schema() -> None:
    schema = parse_schema(ALL_TYPES.replace('autoStg="true"', ""))
    with pytest.raises(FerryError) as info:
        derive_staging_schema(schema)
    assert info.value.code.code == "FRY-100004"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("<srcSchema namespace='a' name='b'>\n<element name='b'>\n<attribute name='x'\n</srcSchema>", None,
         "not well-formed"),
        ("<srcSchema namespace='a' name='b'>\n<element name='b'>\n<attribute name='x' type='blob'/>\n</element>\n"
         "</srcSchema>", 3, "unknown type 'blob'"),
        ("<srcSchema namespace='a' name='b'>\n<element name='other'/>\n</srcSchema>", 1, "no main <element"),
        ("<srcSchema namespace='a' name='b'>\n<element name='b'>\n<key name='k'>\n<keyfield xpath='@nope'/>\n"
         "</key>\n</element>\n</srcSchema>", 4, "names no attribute"),
        ("<srcSchema namespace='a' name='b'>\n<element name='b'>\n<attribute name='x'/>\n<attribute name='x'/>\n"
         "</element>\n</srcSchema>", 4, "declared twice"),
        ("<srcSchema namespace='a b' name='b'/>", 1, "namespace"),
        ("<srcSchema namespace='a' name='b'>\n<element name='b'>\n<attribute name='x' length='many'/>\n"
         "</element>\n</srcSchema>", 3, "non-numeric length"),
        ("<!DOCTYPE x [<!ENTITY e 'boom'>]><srcSchema namespace='a' name='b'/>", None, "DTD"),
    ],
)
def test_malformed_schema_files_are_refused_with_file_line_and_reason(
    tmp_path: Path, text: str, line: int | None, reason: str
) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(text)
    with pytest.raises(FerryError) as info:
        load_schema_file(path)
    message = info.value.message
    assert str(path) in message
    assert reason in message
    if line is not None:
        assert f"{path}:{line}:" in message
    assert info.value.code.code.startswith("FRY-2000")


def test_missing_schema_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FerryError) as info:
        load_schema_file(tmp_path / "nope.xml")
    assert "cannot read" in info.value.message


def test_enumerations_are_read_and_attributes_name_them() -> None:
    schema = parse_schema("""<srcSchema namespace="cus" name="shop">
      <enumeration name="size" basetype="byte"><value name="small" label="Small" value="1"/>
        <value name="big" label="Big" value="2"/></enumeration>
      <element name="shop"><attribute name="size" type="byte" enum="size"/>
        <attribute name="other" type="byte" enum="cus:shop:size"/>
        <attribute name="foreign" type="byte" enum="nms:recipient:gender"/></element></srcSchema>""")
    size = schema.enumeration("size")
    assert size is not None and [value.name for value in size.values] == ["small", "big"]
    assert size.by_value("2") is not None and size.by_value("2").label == "Big"  # type: ignore[union-attr]
    assert schema.attribute("size").enum == "size"  # type: ignore[union-attr]
    assert schema.attribute("other").enum == "size"  # type: ignore[union-attr]
    assert schema.attribute("foreign").enum is None  # type: ignore[union-attr]
    with pytest.raises(FerryError, match="does not declare"):
        parse_schema('<srcSchema namespace="cus" name="shop"><element name="shop">'
                     '<attribute name="size" type="byte" enum="nope"/></element></srcSchema>')
