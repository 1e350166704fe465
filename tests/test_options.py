"""xtk:option in staging: ferry's read-only options, options written as Write sends them, read back as GetOption
answers and as a queryDef reads them."""

from __future__ import annotations

import pytest
from lxml import etree

from ferry import errors, options
from ferry.errors import FerryError
from ferry.query import compile_query, parse_query_def
from ferry.staging import StagingDatabase


def record(xml: str) -> etree._Element:
    return etree.fromstring(xml)


def test_written_options_read_back_with_their_type(staging_db: StagingDatabase) -> None:
    with staging_db.pool.connection() as conn:
        assert options.read_option(conn, "ACC_JS_SDK") == options.Option("ACC_JS_SDK", "", 0)
        # What client.setOption sends for a new option (type 0 → stored as a string).
        options.write_option(conn, record('<option xtkschema="xtk:option" _operation="insertOrUpdate" '
                                          '_key="@name" name="ACC_JS_SDK" dataType="6" stringValue="v1"/>'), "admin")
        assert options.read_option(conn, "ACC_JS_SDK") == options.Option("ACC_JS_SDK", "v1", 6)
        options.write_option(conn, record('<option _key="@name" name="ACC_JS_SDK" dataType="6" stringValue="v2"/>'),
                             "admin")
        assert options.read_option(conn, "ACC_JS_SDK").value == "v2"
        options.write_option(conn, record('<option name="Retries" dataType="3" longValue="12"/>'), "admin")
        assert options.read_option(conn, "Retries") == options.Option("Retries", "12", 3)
        options.write_option(conn, record('<option name="Flag" dataType="15" longValue="true"/>'), "admin")
        assert options.read_option(conn, "Flag") == options.Option("Flag", "true", 15)
        options.write_option(conn, record('<option name="Retries" _operation="delete"/>'), "admin")
        assert options.read_option(conn, "Retries").data_type == 0


def test_ferrys_own_options_are_read_only(staging_db: StagingDatabase) -> None:
    with staging_db.pool.connection() as conn:
        assert options.read_option(conn, "XtkDatabaseId") == options.Option("XtkDatabaseId", options.DATABASE_ID, 6,
                                                                             read_only=True)
        with pytest.raises(FerryError) as caught:
            options.write_option(conn, record('<option name="XtkDatabaseId" stringValue="x"/>'), "admin")
        assert caught.value.code is errors.OPTION_READ_ONLY
        with pytest.raises(FerryError) as caught:
            options.write_option(conn, record('<option name="Bad" dataType="3" longValue="abc"/>'), "admin")
        assert caught.value.code is errors.OPTION_REFUSED
        with pytest.raises(FerryError) as caught:
            options.write_option(conn, record('<option name="Bad" _key="@id" stringValue="x"/>'), "admin")
        assert caught.value.code is errors.OPTION_REFUSED


def test_a_querydef_reads_stored_and_builtin_options(staging_db: StagingDatabase) -> None:
    query = parse_query_def(record('<queryDef schema="xtk:option" operation="select">'
                                   '<select><node expr="@name"/><node expr="@stringValue"/></select>'
                                   '<orderBy><node expr="@name"/></orderBy></queryDef>'))
    with staging_db.pool.connection() as conn:
        options.write_option(conn, record('<option name="Mine" stringValue="m"/>'), "admin")
        compiled = compile_query(query, options.SCHEMA, options.query_table(conn), "postgres")
        rows = conn.execute(compiled.sql, compiled.params).fetchall()
    assert ("Mine", "m") in rows
    assert ("XtkDatabaseId", options.DATABASE_ID) in rows
    assert ("NmsServer_LastPostUpgrade", options.BUILD_NUMBER) in rows
