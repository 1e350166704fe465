"""fakesnow's HTTP server, with MERGE handed to DuckDB whole: `python fakesnow_server.py -s --port N`.

fakesnow 0.12 emulates MERGE by splitting it into a CREATE TEMPORARY TABLE of candidates, then DELETE, UPDATE
and INSERT statements. Inside an explicit transaction that cannot work: the CREATE commits the transaction (it
is DDL) and records table metadata in a second DuckDB database, which DuckDB refuses once the transaction wrote
elsewhere; and the candidates table keeps only plain column references of the UPDATE SET list. DuckDB (1.4 and
later) runs the MERGE dialect ferry sends natively and atomically, so this server leaves MERGE unsplit (its result
is DuckDB's one `Count` column where Snowflake gives a count per action; ferry reads neither). Every other
statement goes through fakesnow unchanged.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Any

import fakesnow.cli
import fakesnow.transforms
from fakesnow.cursor import FakeSnowflakeCursor
from sqlglot import Expr, exp

_describe_last_sql = FakeSnowflakeCursor._describe_last_sql


def _unsplit(expression: Expr) -> list[Expr]:
    return [expression]


def _describe_result(cursor: FakeSnowflakeCursor) -> list[Any]:
    # The server describes the last statement to type its result; DuckDB cannot DESCRIBE a MERGE.
    if isinstance(cursor._last_transformed, exp.Merge):
        cursor._last_sql, cursor._last_params = 'SELECT CAST(0 AS BIGINT) AS "Count"', None
    return _describe_last_sql(cursor)


def _die_with_parent() -> None:
    # Linux: SIGKILL when pytest dies, even if pytest itself is killed (no orphaned servers). Done here, after exec,
    # not in a preexec_fn: code run between fork and exec in pytest's many-threaded process can crash the child.
    if sys.platform.startswith("linux") and os.environ.get("FERRY_DIE_WITH_PARENT") == str(os.getppid()):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


if __name__ == "__main__":
    _die_with_parent()
    fakesnow.transforms.merge = _unsplit
    FakeSnowflakeCursor._describe_last_sql = _describe_result  # type: ignore[method-assign]
    sys.exit(fakesnow.cli.main())
