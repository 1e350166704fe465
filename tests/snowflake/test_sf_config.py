"""The Snowflake URL, credentials from the environment, type mapping and a missing connector (no server needed)."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest

from ferry import errors
from ferry.errors import FerryError
from ferry.schema.model import Attribute
from ferry.schema.types import AttrType
from ferry.warehouse import open_warehouse
from ferry.warehouse.snowflake_types import column_type
from ferry.warehouse.snowflake_url import KEY_FILE_VAR, KEY_PASSPHRASE_VAR, PASSWORD_VAR, parse_url


def test_url_with_password_and_pass_through_parameters() -> None:
    target = parse_url("snowflake://me:p%40ss@xy12345.eu-west-1/SALES/PUBLIC?warehouse=LOAD_WH&role=FERRY"
                       "&host=127.0.0.1&port=8765&protocol=http", {})
    args = target.connect_args()
    assert (args["user"], args["password"], args["account"], args["database"], args["schema"]) == (
        "me", "p@ss", "xy12345.eu-west-1", "SALES", "PUBLIC")
    assert (args["warehouse"], args["role"], args["host"], args["port"], args["protocol"]) == (
        "LOAD_WH", "FERRY", "127.0.0.1", 8765, "http")
    assert args["autocommit"] is True
    assert "p@ss" not in repr(target) and target.display == "snowflake://me@xy12345.eu-west-1/SALES/PUBLIC"


def test_password_from_the_environment() -> None:
    args = parse_url("snowflake://me@acct/DB/SCH", {PASSWORD_VAR: "secret"}).connect_args()
    assert args["password"] == "secret"


def test_key_pair_from_the_environment(tmp_path: Path) -> None:
    key = tmp_path / "rsa_key.p8"
    key.write_text("-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    args = parse_url("snowflake://me@acct/DB/SCH?warehouse=W",
                     {KEY_FILE_VAR: str(key), KEY_PASSPHRASE_VAR: "phrase"}).connect_args()
    assert (args["private_key_file"], args["private_key_file_pwd"]) == (str(key), "phrase")
    assert "password" not in args


@pytest.mark.parametrize(("url", "env", "code"), [
    ("snowflake://me@acct/DB", {PASSWORD_VAR: "x"}, errors.SNOWFLAKE_URL),
    ("snowflake://acct/DB/SCH", {PASSWORD_VAR: "x"}, errors.SNOWFLAKE_URL),
    ("snowflake://me@acct:443/DB/SCH", {PASSWORD_VAR: "x"}, errors.SNOWFLAKE_URL),
    ("snowflake://me@acct/DB/SCH?colour=blue", {PASSWORD_VAR: "x"}, errors.SNOWFLAKE_URL),
    ("snowflake://me@acct/DB/SCH?port=abc", {PASSWORD_VAR: "x"}, errors.SNOWFLAKE_URL),
    ("snowflake://me@acct/DB/SCH", {}, errors.SNOWFLAKE_AUTH),
    ("snowflake://me@acct/DB/SCH", {KEY_FILE_VAR: "/nonexistent/key.p8"}, errors.SNOWFLAKE_AUTH),
])
def test_bad_urls_are_clear_errors(url: str, env: dict[str, str], code: errors.Code) -> None:
    with pytest.raises(FerryError) as caught:
        parse_url(url, env)
    assert caught.value.code is code


def test_missing_connector_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_snowflake(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("snowflake"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_snowflake)
    monkeypatch.setattr("importlib.import_module", lambda name: no_snowflake(name))
    with pytest.raises(FerryError) as caught:
        open_warehouse("snowflake://me:pw@acct/DB/SCH")
    assert caught.value.code is errors.SNOWFLAKE_MISSING
    assert "ferry[snowflake]" in caught.value.message


def test_unreachable_account_is_warehouse_unavailable(unavailable: Callable[[str], NoReturn]) -> None:
    try:
        import snowflake.connector  # noqa: F401
    except ImportError:
        unavailable("snowflake-connector-python is needed: pip install -e '.[test]'")
    with pytest.raises(FerryError) as caught:
        open_warehouse("snowflake://me:pw@acct/DB/SCH?host=127.0.0.1&port=9&protocol=http&login_timeout=2"
                       "&network_timeout=2")
    assert caught.value.code is errors.WAREHOUSE_UNAVAILABLE
    assert "pw" not in caught.value.message


@pytest.mark.parametrize(("kind", "length", "expected"), [
    (AttrType.STRING, 64, "VARCHAR(64)"), (AttrType.MEMO, None, "VARCHAR"), (AttrType.UUID, None, "VARCHAR(36)"),
    (AttrType.BOOLEAN, None, "BOOLEAN"), (AttrType.BYTE, None, "NUMBER(3,0)"), (AttrType.SHORT, None, "NUMBER(5,0)"),
    (AttrType.LONG, None, "NUMBER(10,0)"), (AttrType.INT64, None, "NUMBER(19,0)"), (AttrType.DOUBLE, None, "FLOAT"),
    (AttrType.DATE, None, "DATE"), (AttrType.DATETIME, None, "TIMESTAMP_TZ"),
    (AttrType.DATETIMENOTZ, None, "TIMESTAMP_NTZ"), (AttrType.TIME, None, "TIME"),
])
def test_type_mapping(kind: AttrType, length: int | None, expected: str) -> None:
    assert column_type(Attribute("x", kind, length)) == expected
