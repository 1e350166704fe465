"""Bodies and replies of the REST API, as pydantic models (they drive `/openapi.json`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorDetail(BaseModel):
    """What went wrong: a `FRY-xxxxxx` code, a message, and where in the call when it is about a record."""

    code: str = Field(examples=["FRY-100006"])
    message: str
    position: int | None = Field(default=None, description="1-based position of the refused record in the call.")
    attribute: str | None = None
    campaignCode: str | None = Field(default=None, description="The Campaign code (XSV-…) of an auth refusal.")


class ErrorReply(BaseModel):
    """Every non-2xx reply."""

    error: ErrorDetail


class LogonRequest(BaseModel):
    """Credentials of an operator."""

    model_config = ConfigDict(extra="forbid")
    login: str = Field(max_length=256)
    password: str = Field(max_length=4096)


class OperatorView(BaseModel):
    """Who is logged on and what they may do."""

    login: str
    admin: bool
    schemas: list[str]


class LogonReply(BaseModel):
    """Both tokens are needed on every later call: `Authorization: Bearer <sessionToken>` (or `X-Session-Token`)
    plus `X-Security-Token: <securityToken>`."""

    sessionToken: str
    securityToken: str
    expiresAt: dt.datetime
    operator: OperatorView


class LogoffReply(BaseModel):
    """The session is revoked."""

    loggedOff: bool = True


class StagedRecord(BaseModel):
    """One record of an accepted call."""

    position: int
    uuid: str = Field(description="The staged row's UUID; `GET /api/v1/records/{uuid}` follows it.")
    state: str = Field(examples=["staged"])
    operation: str = Field(examples=["insert"])
    id: str | None = Field(default=None, description="The record's internal id when the call inserts it.")


class IngestReply(BaseModel):
    """An accepted call: every record is durably staged."""

    requestId: str
    schema_: str = Field(alias="schema")
    method: str = Field(examples=["Ingest", "IngestExt"])
    result: str = Field(description="What Campaign's Ingest returns: ids of records inserted without _key, "
                        "comma-separated; empty otherwise.")
    count: int
    records: list[StagedRecord]

    model_config = ConfigDict(populate_by_name=True)


class RecordState(BaseModel):
    """A staged record and what became of it."""

    uuid: str
    schema_: str = Field(alias="schema")
    requestId: str
    position: int | None = None
    operation: str
    key: list[str] | None = None
    state: str = Field(description="staged | synced | skipped | failed")
    reason: str | None = Field(default=None, description="Why a row was skipped.")
    error: str | None = Field(default=None, description="Why a row failed.")
    receivedAt: dt.datetime
    doneAt: dt.datetime | None = None
    values: dict[str, Any] = Field(default_factory=dict)

    model_config = ConfigDict(populate_by_name=True)


class RequestState(BaseModel):
    """A call and the state of each of its records, in document order; or a script run's calls, one after another
    (`requestId` is then the run's id, `schema` and `method` comma-separated when its calls differ). One page of the
    records: `recordCount` counts them all, `counts` this page's."""

    requestId: str
    schema_: str = Field(alias="schema")
    method: str
    operator: str | None
    origin: str
    receivedAt: dt.datetime
    recordCount: int
    counts: dict[str, int]
    records: list[RecordState]
    runId: str | None = Field(default=None, description="The script run that staged this call (its id lists "
                              "every call of the run).")
    offset: int = Field(default=0, description="Records before this page (counted as sent, call after call).")
    nextOffset: int | None = Field(default=None, description="The `offset` of the next page; null on the last.")

    model_config = ConfigDict(populate_by_name=True)


class AttributeView(BaseModel):
    """One attribute of a staged schema."""

    name: str
    type: str
    length: int | None = None
    notNull: bool = False
    label: str | None = None


class KeyView(BaseModel):
    """A key of a staged schema (`internal` for the generated `id`)."""

    name: str
    fields: list[str]
    internal: bool = False


class SchemaView(BaseModel):
    """A schema calls may ingest into, as `ns:name` or its staging id `ns:nameStg`."""

    id: str
    stagingId: str
    label: str
    attributes: list[AttributeView]
    keys: list[KeyView]


class SchemaStatusView(BaseModel):
    """Rows per state and replication lag of one staged schema."""

    schema_: str = Field(alias="schema")
    counts: dict[str, int]
    oldestUnsynced: dt.datetime | None
    lagSeconds: float

    model_config = ConfigDict(populate_by_name=True)


class StatusReply(BaseModel):
    """Staging state of every staged schema."""

    schemas: list[SchemaStatusView]
