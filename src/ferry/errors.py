"""Errors as values: a `FRY-xxxxxx` code plus a message a person can act on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Code:
    """A documented error code."""

    code: str
    title: str


# Documents and records (the ingest door).
MALFORMED_DOCUMENT = Code("FRY-100001", "malformed document")
MISSING_SCHEMA = Code("FRY-100002", "missing xtkschema")
UNKNOWN_SCHEMA = Code("FRY-100003", "unknown schema")
SCHEMA_NOT_STAGED = Code("FRY-100004", "schema not staged")
UNKNOWN_ATTRIBUTE = Code("FRY-100005", "unknown attribute")
BAD_VALUE = Code("FRY-100006", "value of the wrong type")
VALUE_TOO_LONG = Code("FRY-100007", "value too long")
MISSING_KEY_VALUE = Code("FRY-100008", "missing key value")
BAD_KEY = Code("FRY-100009", "invalid _key")
BAD_OPERATION = Code("FRY-100010", "invalid _operation")
NO_KEY = Code("FRY-100011", "no reconciliation key")
EMPTY_CALL = Code("FRY-100012", "no record in the document")
NOT_NULL = Code("FRY-100013", "value required")
MIXED_SCHEMAS = Code("FRY-100014", "several schemas in one call")
TOO_MANY_RECORDS = Code("FRY-100015", "too many records in one call")
DOCUMENT_TOO_LARGE = Code("FRY-100016", "document too large or too deep")
BAD_ENCODING = Code("FRY-100030", "text not in the file's encoding")

# Schema files.
MALFORMED_SCHEMA = Code("FRY-200001", "malformed schema file")
INVALID_SCHEMA = Code("FRY-200002", "invalid schema definition")
STAGING_OF_STAGING = Code("FRY-200003", "a staging schema cannot be staged")
INCOMPATIBLE_CHANGE = Code("FRY-200004", "incompatible schema change")
TABLE_NAME_TAKEN = Code("FRY-200005", "another schema already has this table name")

# Staging store.
STAGING_UNAVAILABLE = Code("FRY-300001", "staging database unavailable")
EMBEDDED_START_FAILED = Code("FRY-300002", "embedded PostgreSQL failed to start")
NOT_FOUND = Code("FRY-300003", "not found")
CONFIG_ERROR = Code("FRY-300004", "configuration error")
ALREADY_RUNNING = Code("FRY-300005", "ferry is already running on this data folder")
CONFIG_UNTRUSTED = Code("FRY-300006", "ferry.toml owned by another user or writable by others")
STAGING_REFUSED = Code("FRY-300010", "staging refused the call's data")
STAGING_IN_DOUBT = Code("FRY-300011", "staging failed during the commit; outcome unknown")

# Backup and restore (ferry backup / ferry restore).
BACKUP_FAILED = Code("FRY-310001", "backup or restore failed")
RESTORE_TARGET_NOT_EMPTY = Code("FRY-310002", "the restore's target already holds data")
BACKUP_UNREADABLE = Code("FRY-310003", "not a backup this ferry can restore")

# Server and SOAP router.
SOAP_MALFORMED = Code("FRY-400001", "malformed SOAP request")
SOAP_MISSING_PARAMETER = Code("FRY-400002", "missing SOAP parameter")
SOAP_UNKNOWN_METHOD = Code("FRY-400003", "unknown SOAP method")
SERVER_INTERNAL = Code("FRY-400004", "internal server error")
SERVER_STOPPING = Code("FRY-400005", "server shutting down")
SYNC_FAILED = Code("FRY-400010", "the sync run started by this call failed")
WRITE_DUPLICATE_KEY = Code("FRY-400011", "Write: a record with this key already exists")
WRITE_REJECTED = Code("FRY-400012", "Write: the warehouse refused a record")
QUERY_FORBIDDEN = Code("FRY-400013", "no right to read this schema")
CANNOT_LISTEN = Code("FRY-400014", "cannot listen on the address and port")
ROLE_REFUSED = Code("FRY-400020", "this server's role does not serve this call")
NOT_SERVED = Code("FRY-400030", "ferry does not serve this Campaign schema or method")
OPTION_REFUSED = Code("FRY-400031", "invalid xtk:option record")
OPTION_READ_ONLY = Code("FRY-400032", "this option is ferry's own and read-only")

# Sync workflow and warehouses.
WAREHOUSE_UNAVAILABLE = Code("FRY-500001", "warehouse unavailable")
WAREHOUSE_URL = Code("FRY-500002", "unsupported warehouse URL")
WAREHOUSE_REJECTED = Code("FRY-500003", "value rejected by the warehouse")
SYNC_BUSY = Code("FRY-500004", "another worker is syncing this schema")
SYNC_UNKNOWN_SCHEMA = Code("FRY-500005", "no staged schema by that name")
SYNC_LEDGER_MISMATCH = Code("FRY-500050", "the warehouse's ledger does not match this staging database")
WAREHOUSE_TIMEOUT = Code("FRY-500006", "the warehouse did not answer in time")
WAREHOUSE_MISMATCH = Code("FRY-500007", "staging feeds another warehouse")
WAREHOUSE_NOT_OPENED = Code("FRY-500008", "this server's role does not open the warehouse")

# Operators, sessions, rights and the REST API.
BAD_CREDENTIALS = Code("FRY-600001", "bad login or password")
SESSION_INVALID = Code("FRY-600002", "session expired or invalid")
FORBIDDEN = Code("FRY-600003", "not allowed for this operator")
RATE_LIMITED = Code("FRY-600004", "too many calls")
OPERATOR_EXISTS = Code("FRY-600005", "operator already exists")
UNKNOWN_OPERATOR = Code("FRY-600006", "unknown operator")
BAD_OPERATOR = Code("FRY-600007", "invalid operator definition")
BODY_TOO_LARGE = Code("FRY-600008", "request body too large")
UNSUPPORTED_MEDIA_TYPE = Code("FRY-600009", "unsupported content type")
BAD_REQUEST = Code("FRY-600010", "malformed request")
RECORD_NOT_FOUND = Code("FRY-600011", "record or request not found")
LOGON_THROTTLED = Code("FRY-600012", "too many failed logons")
REQUEST_HEAD_TOO_LARGE = Code("FRY-600013", "request line or headers too large or too many")
REQUEST_TIMEOUT = Code("FRY-600014", "request not received in time")
TOO_MANY_CONNECTIONS = Code("FRY-600015", "too many connections from this address")
METRICS_FORBIDDEN = Code("FRY-600016", "metrics scrape not allowed")
NO_RIGHTS_RULE = Code("FRY-600017", "route without a rights rule")
IDEMPOTENCY_MISMATCH = Code("FRY-600018", "Idempotency-Key reused for a different request")
CLIENT_GONE = Code("FRY-600019", "the client closed the connection before its request arrived")

# Queries (xtk:queryDef and the REST read API).
BAD_QUERY = Code("FRY-700001", "invalid query definition")
EXPRESSION_SYNTAX = Code("FRY-700002", "invalid expression")
QUERY_UNKNOWN_ATTRIBUTE = Code("FRY-700003", "attribute not in the schema")
FUNCTION_NOT_ALLOWED = Code("FRY-700004", "function not allowed")
EXPRESSION_TOO_COMPLEX = Code("FRY-700005", "expression too long or too deeply nested")
QUERY_TYPE_MISMATCH = Code("FRY-700006", "value does not fit the compared expression")
QUERY_NO_RECORD = Code("FRY-700007", "no record matches the query")
QUERY_NO_TABLE = Code("FRY-700008", "schema has no warehouse table")
QUERY_OUT_OF_RANGE = Code("FRY-700009", "function argument out of range")
QUERY_DIVISION_BY_ZERO = Code("FRY-700010", "division by zero")
QUERY_EVALUATION = Code("FRY-700011", "the warehouse could not evaluate the query")

# Snowflake warehouse and unicity checks.
SNOWFLAKE_MISSING = Code("FRY-800001", "the Snowflake connector is not installed")
SNOWFLAKE_URL = Code("FRY-800002", "invalid Snowflake warehouse URL")
SNOWFLAKE_AUTH = Code("FRY-800003", "Snowflake credentials missing or unreadable")
DUPLICATED_KEY = Code("FRY-800010", "duplicated key in the warehouse")

# Operator console.
CONSOLE_CSRF = Code("FRY-900001", "console form token missing or wrong")
CONSOLE_FORBIDDEN = Code("FRY-900002", "console action needs the admin right")
CONSOLE_NOT_FOUND = Code("FRY-900003", "console page, row or run not found")
CONSOLE_ROW_STATE = Code("FRY-900004", "the row is not in a state this action applies to")

# Subscriptions (services, Subscribe / Unsubscribe, one-click links).
SERVICE_UNKNOWN = Code("FRY-110001", "unknown service")
SERVICE_DISABLED = Code("FRY-110002", "service disabled")
SERVICE_EXISTS = Code("FRY-110003", "service already exists")
BAD_SERVICE = Code("FRY-110004", "invalid service definition")
BAD_RECIPIENT = Code("FRY-110005", "invalid recipient document")
LINK_INVALID = Code("FRY-110006", "invalid unsubscribe link")
LINK_EXPIRED = Code("FRY-110007", "expired unsubscribe link")


# Workflow scripts (ferry.scripts): the engine, its limits and the JSAPI.
SCRIPT_ERROR = Code("FRY-130001", "the script threw an error")
SCRIPT_TIMEOUT = Code("FRY-130002", "the script ran past its time limit")
SCRIPT_MEMORY = Code("FRY-130003", "the script ran out of memory")
SCRIPT_UNSUPPORTED = Code("FRY-130004", "a Campaign JSAPI function ferry does not offer")
SCRIPT_LOG_ERROR = Code("FRY-130005", "the script called logError")
SCRIPT_LIBRARY = Code("FRY-130006", "script library not found")
SCRIPT_ENGINE = Code("FRY-130007", "the script engine ended unexpectedly")
SCRIPT_BAD_ARGUMENT = Code("FRY-130008", "bad argument to a JSAPI function")
SCRIPT_STACK = Code("FRY-130009", "the script recursed too deeply")
SCRIPT_FILE = Code("FRY-130010", "script file unreadable")
SCRIPT_SYNTAX = Code("FRY-130011", "syntax error in the script")

# Workflows: scheduled scripts (`ferry workflow`, REST, SOAP xtk:workflow, the console).
WORKFLOW_UNKNOWN = Code("FRY-140001", "no workflow by that name")
WORKFLOW_EXISTS = Code("FRY-140002", "a workflow by that name already exists")
BAD_WORKFLOW = Code("FRY-140003", "invalid workflow definition")
BAD_SCHEDULE = Code("FRY-140004", "invalid schedule")
WORKFLOW_VARS_TOO_LARGE = Code("FRY-140005", "instance.vars too large to keep")
WORKFLOW_BUSY = Code("FRY-140006", "the workflow is already running")
WORKFLOW_DISABLED = Code("FRY-140007", "the workflow is disabled")
WORKFLOW_STOPPED = Code("FRY-140008", "the run was stopped by an operator")
WORKFLOW_ABANDONED = Code("FRY-140009", "the run's process died")
WORKFLOW_WAREHOUSE_HELD = Code("FRY-140010", "the DuckDB warehouse is held and no running server took the run")


class FerryError(Exception):
    """An error a caller can act on; never a bare traceback."""

    def __init__(
        self,
        code: Code,
        message: str,
        *,
        position: int | None = None,
        attribute: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.position = position
        self.attribute = attribute
        self.detail = detail
        super().__init__(self.text)

    @property
    def text(self) -> str:
        """The code followed by the message, as Campaign puts it in a faultstring."""
        return f"{self.code.code} {self.message}"

    def at(self, position: int) -> FerryError:
        """The same error, located at the record `position` (1-based) of its call."""
        if self.message.startswith("Record "):
            return self
        message = f"Record {position}: {self.message}"
        return FerryError(self.code, message, position=position, attribute=self.attribute, detail=self.detail)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view for REST replies and logs."""
        out: dict[str, Any] = {"code": self.code.code, "message": self.message}
        if self.position is not None:
            out["position"] = self.position
        if self.attribute is not None:
            out["attribute"] = self.attribute
        if self.detail is not None:
            out["detail"] = self.detail
        return out
