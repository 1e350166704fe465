"""The Python API: a session a workflow script calls the way Campaign's JavaScript calls `xtk.session.Ingest(xml)`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from lxml import etree

from ferry.config import Settings
from ferry.ingest.documents import RawRecord, records_from_json, records_from_xml, records_from_xml_bytes
from ferry.ingest.operations import Call, Method
from ferry.ingest.rules import build_call
from ferry.locations import announce
from ferry.staging.database import StagingDatabase

Document = str | bytes | etree._Element | Mapping[str, Any] | Sequence[Mapping[str, Any]]


class Session:
    """Stages Ingest / IngestExt calls straight into the staging database, one transaction per call."""

    def __init__(self, db: StagingDatabase, *, operator: str | None = None, origin: str = "python",
                 owns_db: bool = False) -> None:
        self.db = db
        self.operator = operator
        self.origin = origin
        self._owns_db = owns_db

    @classmethod
    def open(cls, settings: Settings | None = None, **overrides: Any) -> Session:
        """Open the staging database named by `settings` (or the environment) for this session."""
        settings = settings or Settings.from_env(**overrides)
        announce(settings)
        db = StagingDatabase.open(settings)
        return cls(db, owns_db=True)

    def ingest(self, doc: Document) -> str:
        """Insert only; returns the new record's UUID ("" when `_key` reconciliation is used)."""
        return self.stage(Method.INGEST, doc).result

    def ingest_ext(self, doc: Document) -> None:
        """Insert, update or delete (`_operation`), reconciled on `_key` or the record's `id`."""
        self.stage(Method.INGEST_EXT, doc)

    def stage(self, method: Method, doc: Document) -> Call:
        """Validate and stage one call; returns the accepted call (its request id, operations, result)."""
        call = build_call(self.db.registry, method, _records(doc), operator=self.operator, origin=self.origin)
        self.db.store.stage([call])
        return call

    def close(self) -> None:
        """Close the staging database when this session opened it."""
        if self._owns_db:
            self.db.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _records(doc: Document) -> list[RawRecord]:
    if isinstance(doc, etree._Element):
        return records_from_xml(doc)
    if isinstance(doc, str | bytes):
        return records_from_xml_bytes(doc)
    if isinstance(doc, Mapping):
        return records_from_json(dict(doc))
    return records_from_json([dict(item) for item in doc])
