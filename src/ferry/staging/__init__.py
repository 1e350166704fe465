"""The PostgreSQL staging store: DDL from schemas, the write path, record status."""

from ferry.staging.database import StagingDatabase
from ferry.staging.ddl import SYSTEM_COLUMNS, SchemaChange, staging_table_name, table_ident
from ferry.staging.store import STATES, SchemaStatus, StagingStore, write_calls

__all__ = [
    "STATES",
    "SYSTEM_COLUMNS",
    "SchemaChange",
    "SchemaStatus",
    "StagingDatabase",
    "StagingStore",
    "staging_table_name",
    "table_ident",
    "write_calls",
]
