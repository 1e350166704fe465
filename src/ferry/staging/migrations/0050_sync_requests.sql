-- Syncs asked for by another process (e.g. `ferry sync` while `ferry serve` holds a DuckDB warehouse file):
-- the scheduler of a running server takes them and records the runs it started.
CREATE TABLE ferry.sync_requests (
    id           uuid PRIMARY KEY,
    schema_id    text,
    requested_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    requested_by text,
    taken_at     timestamptz,
    run_ids      uuid[],
    error        text
);
CREATE INDEX sync_requests_open ON ferry.sync_requests (requested_at) WHERE taken_at IS NULL;
