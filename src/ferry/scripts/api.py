"""The parent side of the JSAPI: each call a script makes, served by ferry's own code for one operator.

Every call takes the path of the same SOAP call: the same document parsing, `build_call`, rights and staging for
Ingest / IngestExt, the same `ferry.query.run` and results for ExecuteQuery, the same `ferry.ingest.writes`
validation and warehouse transaction for Write, the same request builder for Subscribe, the same options.
Nothing here is reachable by the script but through these methods, and the worker holds no credential.
"""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from ferry import errors, options, system_views
from ferry.auth import AuthError, Operator, rights
from ferry.config import Settings
from ferry.errors import FerryError
from ferry.ingest import Call, Method, build_call, inserts, records_from_xml, writes
from ferry.query import QueryDef, QueryNotFound, analyzed, parse_query_def, rows_to_xml
from ferry.query import run as query_run
from ferry.schema.registry import SchemaRegistry
from ferry.scripts import jxon
from ferry.staging.database import StagingDatabase
from ferry.subscriptions import SCHEMA_ID as SUBSCRIPTION_SCHEMA
from ferry.subscriptions.requests import SUBSCRIBE, UNSUBSCRIBE, build_request, recipient_from_json, recipient_from_xml
from ferry.xmlsafe import parse_xml

ORIGIN = "js"
WRITE_ORIGIN = "js-write"  # as SOAP's Write is "soap-write": applied to the warehouse, never staged
LIBRARY_FOLDER = "scripts"
_LIBRARY_NAME = re.compile(r"^([A-Za-z][A-Za-z0-9_]*):([A-Za-z0-9_][A-Za-z0-9_.-]*\.js)$")
MAX_LIBRARY_BYTES = 4 << 20


def local_owner() -> Operator:
    """The operator `ferry js` runs as without --operator: the local owner of the data folder, with every right
    (whoever can read the data folder can already do anything to it)."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name in a container
        user = "owner"
    return Operator(id=0, login=f"local:{user}", admin=True, schemas=frozenset(), disabled=False)


@dataclass
class ScriptApi:
    """Serves one run's relayed JSAPI calls for `operator`.

    `stage(call)` commits a call to staging before returning (the CLI stages straight into PostgreSQL; the server
    goes through its group committer); `warehouse()` opens the warehouse on first use (queries, Write).
    """

    operator: Operator
    settings: Settings
    registry: Callable[[], SchemaRegistry]
    stage: Callable[[Call], None]
    pool: Any
    warehouse: Callable[[], Any]
    refresh_schemas: Callable[[], bool] = lambda: False
    scripts_dir: Path | None = None
    run_id: str | None = None
    _staged: list[str] = field(default_factory=list)
    _parsed_run_id: tuple[str, uuid.UUID] | None = None

    @classmethod
    def for_staging(cls, db: StagingDatabase, settings: Settings, operator: Operator | None = None, *,
                    warehouse: Callable[[], Any]) -> ScriptApi:
        """For `ferry js`: calls staged straight into `db`, one transaction each (as the Python `Session`)."""

        def reload() -> bool:
            db.reload_schemas()
            return True

        return cls(operator or local_owner(), settings, lambda: db.registry, lambda call: db.store.stage([call]),
                   db.pool, warehouse, reload, scripts_folder(settings))

    @classmethod
    def for_runtime(cls, runtime: Any, operator: Operator, loop: asyncio.AbstractEventLoop) -> ScriptApi:
        """For a server (`ferry.server.runtime.Runtime`), called from a thread: calls go through its group
        committer on `loop`, reads and Write through its warehouse."""

        def stage(call: Call) -> None:
            asyncio.run_coroutine_threadsafe(runtime.writer.submit(call), loop).result()

        def refresh() -> bool:
            return bool(asyncio.run_coroutine_threadsafe(runtime.refresh_schemas(), loop).result())

        return cls(operator, runtime.settings, lambda: runtime.registry, stage, runtime.db.pool,
                   lambda: runtime.warehouse, refresh, scripts_folder(runtime.settings))

    # -- dispatch -------------------------------------------------------------------------------------------------

    def serve(self, op: str, args: dict[str, Any]) -> Any:
        """One relayed call: `op` and its arguments as the shim sent them; FerryError refuses it."""
        if self.operator.disabled:
            raise AuthError(errors.FORBIDDEN, f"operator {self.operator.login!r} is disabled", http_status=403)
        handler = getattr(self, f"_op_{op}", None)
        if handler is None:
            raise FerryError(errors.SCRIPT_UNSUPPORTED, f"{op!r} is not a call ferry serves to scripts")
        return handler(args)

    def take_request_ids(self) -> list[str]:
        """The request ids of the calls staged since the last time this was asked."""
        taken, self._staged = self._staged, []
        return taken

    # -- xtk:session ----------------------------------------------------------------------------------------------

    def _op_ingest(self, args: dict[str, Any]) -> str:
        method = Method.INGEST if args.get("method") == "Ingest" else Method.INGEST_EXT
        document = self._document(args.get("doc"), method.value)
        call = self._retrying(lambda: self._prepare(method, document))
        self.stage(call)
        self._staged.append(str(call.request_id))
        return call.result if method is Method.INGEST else ""

    def _prepare(self, method: Method, document: etree._Element) -> Call:
        # As `ferry.server.api.soap._prepare`: validate (plain inserts straight into columns), then the ingest
        # right on the call's schema.
        registry, max_records, run_id = self.registry(), self.settings.max_records_per_call, self._run_uuid()
        call = inserts.xml_call(registry, document, operator=self.operator.login, origin=ORIGIN,
                                max_records=max_records) if method is Method.INGEST else None
        if call is not None:
            call = dataclasses.replace(call, run_id=run_id)
        else:
            call = build_call(registry, method, records_from_xml(document), operator=self.operator.login,
                              origin=ORIGIN, max_records=max_records, run_id=run_id)
        if not rights.can_write(self.operator, call.schema_id):
            raise AuthError(errors.FORBIDDEN, f"operator {self.operator.login!r} has no right to ingest into "
                            f"{call.schema_id}", http_status=403)
        return call

    def _op_write(self, args: dict[str, Any]) -> None:
        method = "WriteCollection" if args.get("collection") else "Write"
        document = self._document(args.get("doc"), method)
        if (document.get("xtkschema") or "").strip() == options.SCHEMA_ID:
            # As SOAP's Write: `xtk:option` records are stored in staging (`ferry.options`), admins only.
            options.store_options(self.pool, document, self.operator)
            return
        records = writes.collection_records(document) if args.get("collection") else records_from_xml(document)
        registry = self.registry()
        call = writes.prepare(registry, method, records, operator=self.operator.login, origin=WRITE_ORIGIN,
                              max_records=self.settings.max_records_per_call, require_right=self._require_ingest)
        if call is not None:
            schema = registry.get(call.schema_id)
            assert schema is not None
            writes.apply_call(schema, self.warehouse(), call, query_run.ensure_table)

    def _require_ingest(self, schema_id: str) -> None:
        rights.require(self.operator, rights.Access.WRITE, schema_id, what=f"ingest into {schema_id}")

    def _op_getOption(self, args: dict[str, Any]) -> list[Any]:
        # The same options SOAP GetOption reads: ferry's own, then those stored in staging (`ferry.options`).
        with self.pool.connection() as conn:
            option = options.read_option(conn, str(args.get("name", "")))
        return [option.value, int(option.data_type)]

    # -- xtk:queryDef ---------------------------------------------------------------------------------------------

    def _op_query(self, args: dict[str, Any]) -> str:
        query = parse_query_def(self._document(args.get("doc"), "xtk.queryDef.create"))
        view = system_views.view(query.schema_id)
        if view is not None:
            return self._query_view(query, view)
        schema = query_run.queryable(self.registry(), query.schema_id)
        if schema is None and self.refresh_schemas():
            schema = query_run.queryable(self.registry(), query.schema_id)
        if schema is None:
            raise query_run.no_table(query.schema_id)
        if not rights.can_read(self.operator, schema.id):
            raise AuthError(errors.QUERY_FORBIDDEN, f"operator {self.operator.login!r} has no right to read "
                            f"{schema.id}", http_status=403)
        compiled, rows = query_run.run_query(self.warehouse(), query, schema, query_run.MAX_ROWS)
        try:
            result = rows_to_xml(query, query.schema_short_name, compiled.columns, rows)
        except QueryNotFound as exc:
            raise FerryError(exc.code, f"{exc.campaign_code} {exc.message}") from None
        return etree.tostring(result, encoding="unicode")

    def _query_view(self, query: QueryDef, view: system_views.SystemView) -> str:
        # As SOAP's ExecuteQuery on xtk:option, xtk:operator, xtk:enumValue: read on staging, never the warehouse.
        system_views.require_view(self.operator, view)
        compiled, rows = system_views.run_view(self.pool, self.registry(), self.operator, query, view)
        names = [column.name for column in compiled.columns]
        try:
            result = rows_to_xml(query, query.schema_short_name, compiled.columns, rows,
                                 analyzed(query, view.schema, names))
        except QueryNotFound as exc:
            raise FerryError(exc.code, f"{exc.campaign_code} {exc.message}") from None
        return etree.tostring(result, encoding="unicode")

    # -- nms:subscription -----------------------------------------------------------------------------------------

    def _op_subscribe(self, args: dict[str, Any]) -> None:
        self._subscription(SUBSCRIBE, args)

    def _op_unsubscribe(self, args: dict[str, Any]) -> None:
        self._subscription(UNSUBSCRIBE, args)

    def _subscription(self, action: int, args: dict[str, Any]) -> None:
        doc = args.get("recipient") or {}
        if "json" in doc and isinstance(doc["json"], dict) and len(doc["json"]) == 1 \
                and isinstance(next(iter(doc["json"].values())), dict):
            recipient = recipient_from_json(self.registry(), next(iter(doc["json"].values())))
        elif "json" in doc:
            recipient = recipient_from_json(self.registry(), doc["json"])
        else:
            recipient = recipient_from_xml(self.registry(), self._document(doc, "Subscribe"))
        if not rights.can_write(self.operator, SUBSCRIPTION_SCHEMA):
            raise AuthError(errors.FORBIDDEN, f"operator {self.operator.login!r} has no right on "
                            f"{SUBSCRIPTION_SCHEMA}", http_status=403)
        call = build_request(self.pool, action, args.get("service"), recipient, create=bool(args.get("create")),
                             origin=ORIGIN, operator=self.operator.login)
        call = self._of_run(call)
        self.stage(call)
        self._staged.append(str(call.request_id))

    # -- loadLibrary ----------------------------------------------------------------------------------------------

    def _op_library(self, args: dict[str, Any]) -> str:
        name = str(args.get("name", ""))
        found = _LIBRARY_NAME.match(name)
        if found is None:
            raise FerryError(errors.SCRIPT_LIBRARY, f"loadLibrary({name[:80]!r}): a library is named like "
                             "\"ns:name.js\"")
        if self.scripts_dir is None:
            raise FerryError(errors.SCRIPT_LIBRARY, f"loadLibrary({name!r}): no scripts folder is configured")
        path = self.scripts_dir / found.group(1) / found.group(2)
        try:
            data = path.read_bytes()[: MAX_LIBRARY_BYTES + 1]
        except OSError as exc:
            raise FerryError(errors.SCRIPT_LIBRARY, f"loadLibrary({name!r}): cannot read {path} "
                             f"({exc.strerror or exc})") from None
        if len(data) > MAX_LIBRARY_BYTES:
            raise FerryError(errors.SCRIPT_LIBRARY, f"loadLibrary({name!r}): {path} is larger than "
                             f"{MAX_LIBRARY_BYTES >> 20} MiB")
        return data.decode("utf-8", "replace")

    # -- helpers --------------------------------------------------------------------------------------------------

    def _document(self, doc: Any, what: str) -> etree._Element:
        if not isinstance(doc, dict):
            raise FerryError(errors.SCRIPT_BAD_ARGUMENT, f"{what} needs a document")
        if "xml" in doc:
            return parse_xml(str(doc["xml"]), origin=what)
        return jxon.to_element(doc.get("json"), what)

    def _of_run(self, call: Call) -> Call:
        """`call` marked with this run's id, so `/api/v1/requests/{run id}` lists every call of the run; its own
        request id stays its own (the group committer resolves in-doubt commits by it)."""
        return dataclasses.replace(call, run_id=self._run_uuid())

    def _run_uuid(self) -> uuid.UUID:
        """This run's id (made on first use), parsed once per run rather than once per call."""
        if self.run_id is None:
            self.run_id = new_run_id()
        if self._parsed_run_id is None or self._parsed_run_id[0] != self.run_id:
            self._parsed_run_id = (self.run_id, uuid.UUID(self.run_id))
        return self._parsed_run_id[1]

    def _retrying(self, prepare: Callable[[], Call]) -> Call:
        try:
            return prepare()
        except FerryError as exc:
            # A schema applied by another process since the registry was read: look again, once (as SOAP does).
            if exc.code not in (errors.UNKNOWN_SCHEMA, errors.SCHEMA_NOT_STAGED) or not self.refresh_schemas():
                raise
            return prepare()


def scripts_folder(settings: Settings) -> Path:
    """Where `loadLibrary("ns:name.js")` reads `ns/name.js`: FERRY_SCRIPTS_DIR, else the data folder's `scripts/`."""
    if settings.scripts_dir is not None:
        return Path(settings.scripts_dir)
    return Path(settings.data_dir) / LIBRARY_FOLDER


def new_run_id() -> str:
    """A fresh run id."""
    return str(uuid.uuid4())
