-- ferry's own bookkeeping lives in schema "ferry"; one staging table per staged schema in "ferry_stg".
CREATE SCHEMA IF NOT EXISTS ferry_stg;

CREATE TABLE ferry.schemas (
    id          text PRIMARY KEY,
    source_xml  text NOT NULL,
    staged      boolean NOT NULL,
    stg_table   text,
    builtin     boolean NOT NULL DEFAULT false,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    revision    integer NOT NULL DEFAULT 1
);

CREATE TABLE ferry.requests (
    id           uuid PRIMARY KEY,
    schema_id    text NOT NULL,
    method       text NOT NULL,
    operator     text,
    origin       text NOT NULL,
    record_count integer NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX requests_received ON ferry.requests (received_at);
