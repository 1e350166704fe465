"""A document (XML element, JSON object, CSV row) → validated operations; the Ingest / IngestExt rules."""

from ferry.ingest.documents import RawRecord, records_from_json, records_from_xml, records_from_xml_bytes
from ferry.ingest.operations import Call, Method, Op, Operation
from ferry.ingest.rules import build_call, build_operation

__all__ = [
    "Call",
    "Method",
    "Op",
    "Operation",
    "RawRecord",
    "build_call",
    "build_operation",
    "records_from_json",
    "records_from_xml",
    "records_from_xml_bytes",
]
