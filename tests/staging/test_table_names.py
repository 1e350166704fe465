"""Two schemas never share a staging or warehouse table (issue 27, item 1): a schema whose table is taken is refused
naming both; an installation that already holds such a pair is reported by `ferry doctor tables`."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from ferry import errors
from ferry.cli.main import app
from ferry.errors import FerryError
from ferry.schema import parse_schema
from ferry.schema.table_names import check_new_table, shared_tables, table_name
from ferry.staging import StagingDatabase


def schema_xml(namespace: str, name: str, attribute: str = "secret") -> str:
    return (f'<srcSchema namespace="{namespace}" name="{name}"><element name="{name}" autopk="true" autouuid="true" '
            f'autoStg="true"><attribute name="{attribute}" type="string" length="20"/></element></srcSchema>')


@pytest.mark.parametrize(("first", "second"), [(("cs", "b_c"), ("cs_b", "c")),
                                               (("dem", "sampleTable"), ("DEM", "sampleTable"))])
def test_a_schema_whose_table_is_taken_is_refused_naming_both(staging_db: StagingDatabase,
                                                              first: tuple[str, str], second: tuple[str, str]) -> None:
    staging_db.catalog.apply(parse_schema(schema_xml(*first)))
    other = parse_schema(schema_xml(*second, attribute="other"))
    with pytest.raises(FerryError) as caught:
        staging_db.catalog.apply(other)
    assert caught.value.code == errors.TABLE_NAME_TAKEN
    assert f"{second[0]}:{second[1]}" in caught.value.message and f"{first[0]}:{first[1]}" in caught.value.message
    with psycopg.connect(staging_db.url) as conn:
        stored = [row[0] for row in conn.execute("SELECT id FROM ferry.schemas WHERE id ILIKE 'cs%' OR id ILIKE "
                                                 "'dem:%'")]
        columns = {row[0] for row in conn.execute("SELECT column_name FROM information_schema.columns WHERE "
                                                  "table_schema = 'ferry_stg' AND table_name = %s",
                                                  (table_name(other.id),))}
    assert stored == [f"{first[0]}:{first[1]}"] and "other" not in columns  # the first schema's table is untouched
    # The first schema itself is applied again as before: its table keeps its name.
    assert not staging_db.catalog.apply(parse_schema(schema_xml(*first))).changed


def test_names_ferry_derives_and_long_names_are_kept_apart() -> None:
    with pytest.raises(FerryError, match="'__'"):
        check_new_table("cus:shop__seq", ["cus:shop"])
    with pytest.raises(FerryError, match="at most 40"):
        check_new_table("cus:" + "x" * 40, [])
    check_new_table("cus:" + "x" * 36, [])
    # An existing schema keeps its table whatever the new rules say.
    check_new_table("cus:" + "x" * 60, ["cus:" + "x" * 60])
    assert shared_tables(["cs:b_c", "cs_b:c", "nms:recipient", "DEM:t", "dem:t"]) == {
        "cs_b_c": ["cs:b_c", "cs_b:c"], "dem_t": ["DEM:t", "dem:t"]}


def test_doctor_tables_reports_a_pair_applied_before_the_rule(staging_db: StagingDatabase, cli_env: dict[str, str],
                                                              tmp_path: Path) -> None:
    runner = CliRunner()
    clean = runner.invoke(app, ["doctor", "tables"], env=cli_env)
    assert clean.exit_code == 0 and "No table is shared" in clean.output, clean.output
    staging_db.catalog.apply(parse_schema(schema_xml("cs", "b_c")))
    # As an installation from before the rule holds it: stored next to the first, on the same table.
    twin = parse_schema(schema_xml("cs_b", "c"))
    with psycopg.connect(staging_db.url) as conn:
        conn.execute("INSERT INTO ferry.schemas (id, source_xml, staged, stg_table, builtin) VALUES (%s, %s, true, "
                     "%s, false)", (twin.id, twin.source_xml, table_name(twin.id)))
    result = runner.invoke(app, ["doctor", "tables"], env=cli_env)
    assert result.exit_code == 1 and "cs_b_c" in result.output and "cs:b_c, cs_b:c" in result.output, result.output
    as_json = runner.invoke(app, ["doctor", "tables", "--json"], env=cli_env)
    assert '{"table": "cs_b_c", "schemas": ["cs:b_c", "cs_b:c"]}' in as_json.output.splitlines()
    # Neither schema of the pair can be applied again (it would change the other's table).
    with pytest.raises(FerryError) as caught:
        staging_db.catalog.apply(twin)
    assert caught.value.code == errors.TABLE_NAME_TAKEN
