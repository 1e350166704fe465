"""The server's identity as `xtk:session#GetOption` and `<serverInfo>` give it (SOAP and workflow scripts)."""

from __future__ import annotations

BUILD_NUMBER = "9999"
DATABASE_ID = "ferry"
INSTANCE_NAME = "ferry"
# Options GetOption answers (Campaign type 6 = string); any other is unknown ("" and type 0), never a secret.
OPTIONS = {"XtkDatabaseId": DATABASE_ID, "NmsServer_LastPostUpgrade": BUILD_NUMBER, "XtkInstanceName": INSTANCE_NAME}
OPTION_STRING = 6


def get_option(name: str) -> tuple[str, int]:
    """(value, type) for GetOption: ("", 0) for an option ferry does not give."""
    value = OPTIONS.get(name.strip())
    return ("", 0) if value is None else (value, OPTION_STRING)
