"""`snowflake://user[:password]@account/DATABASE/SCHEMA?warehouse=…&role=…` → `snowflake.connector.connect` arguments.

Secrets may also come from the environment: `FERRY_SNOWFLAKE_PASSWORD`, or key-pair authentication with
`FERRY_SNOWFLAKE_PRIVATE_KEY_FILE` (PEM, PKCS#8) and `FERRY_SNOWFLAKE_PRIVATE_KEY_PASSPHRASE`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ferry import errors
from ferry.errors import FerryError

PASSWORD_VAR = "FERRY_SNOWFLAKE_PASSWORD"
KEY_FILE_VAR = "FERRY_SNOWFLAKE_PRIVATE_KEY_FILE"
KEY_PASSPHRASE_VAR = "FERRY_SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"

# Query parameters handed to the connector as they are (text) or as integers.
TEXT_PARAMETERS = ("warehouse", "role", "host", "protocol", "authenticator", "region")
INT_PARAMETERS = ("port", "login_timeout", "network_timeout", "socket_timeout")


@dataclass(frozen=True)
class SnowflakeTarget:
    """Where and how to connect; `connect_args()` never includes secrets in `repr`."""

    user: str
    account: str
    database: str
    schema: str
    options: dict[str, Any] = field(default_factory=dict)
    password: str | None = field(default=None, repr=False)
    private_key_file: str | None = None
    private_key_passphrase: str | None = field(default=None, repr=False)

    def connect_args(self) -> dict[str, Any]:
        """Keyword arguments for `snowflake.connector.connect`."""
        args: dict[str, Any] = {
            "user": self.user, "account": self.account, "database": self.database, "schema": self.schema,
            "autocommit": True, "application": "ferry",
            "session_parameters": {"TIMEZONE": "UTC", "QUERY_TAG": "ferry"},
            # Bounds the connector's retries of a failing request (it retries HTTP 5xx with back-off).
            "network_timeout": 600,
            **self.options,
        }
        if self.private_key_file:
            args["private_key_file"] = self.private_key_file
            if self.private_key_passphrase:
                args["private_key_file_pwd"] = self.private_key_passphrase
        elif self.password is not None:
            args["password"] = self.password
        return args

    @property
    def display(self) -> str:
        """The URL without its password, for messages."""
        return f"snowflake://{self.user}@{self.account}/{self.database}/{self.schema}"


def parse_url(url: str, environ: Mapping[str, str] | None = None) -> SnowflakeTarget:
    """Read a `snowflake://` URL (and the secrets in the environment); raise FRY-800002/800003 when unusable."""
    env = os.environ if environ is None else environ
    parts = urlsplit(url)
    if parts.scheme.lower() != "snowflake":
        raise FerryError(errors.SNOWFLAKE_URL, f"{_safe(url)} is not a snowflake:// URL")
    user = unquote(parts.username or "")
    account = parts.hostname or ""
    if parts.port is not None:
        raise FerryError(errors.SNOWFLAKE_URL, "put the port in the query (?port=N): the URL's host is the account")
    path = [unquote(p) for p in parts.path.split("/") if p]
    if not user or not account or len(path) != 2:
        raise FerryError(errors.SNOWFLAKE_URL, f"{_safe(url)}: expected snowflake://user[:password]@account/"
                         "DATABASE/SCHEMA?warehouse=…&role=…")
    options: dict[str, Any] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in TEXT_PARAMETERS:
            options[name] = value
        elif name in INT_PARAMETERS:
            try:
                options[name] = int(value)
            except ValueError:
                raise FerryError(errors.SNOWFLAKE_URL, f"{name}={value!r} is not a number") from None
        else:
            allowed = ", ".join((*TEXT_PARAMETERS, *INT_PARAMETERS))
            raise FerryError(errors.SNOWFLAKE_URL, f"unknown parameter {name!r} in the Snowflake URL "
                             f"(allowed: {allowed})")
    password = unquote(parts.password) if parts.password is not None else env.get(PASSWORD_VAR)
    key_file = env.get(KEY_FILE_VAR) or None
    if key_file and not Path(key_file).is_file():
        raise FerryError(errors.SNOWFLAKE_AUTH, f"{KEY_FILE_VAR}={key_file} is not a readable file")
    if password is None and key_file is None and "authenticator" not in options:
        raise FerryError(errors.SNOWFLAKE_AUTH, f"no Snowflake credentials: put the password in the URL or in "
                         f"{PASSWORD_VAR}, or set {KEY_FILE_VAR} (key-pair authentication)")
    return SnowflakeTarget(user, account, path[0], path[1], options, password, key_file,
                           env.get(KEY_PASSPHRASE_VAR) or None)


def _safe(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)
