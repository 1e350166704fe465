-- Runs of the sync workflow (ffdaReplicateStagingData) and of the purge, one row per run and schema.
CREATE TABLE ferry.workflow_runs (
    id          uuid PRIMARY KEY,
    workflow    text NOT NULL,
    schema_id   text,
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    ended_at    timestamptz,
    state       text NOT NULL DEFAULT 'running'
                CHECK (state IN ('running', 'succeeded', 'failed', 'skipped')),
    batches     integer NOT NULL DEFAULT 0,
    rows_read   bigint NOT NULL DEFAULT 0,
    rows_inserted bigint NOT NULL DEFAULT 0,
    rows_updated  bigint NOT NULL DEFAULT 0,
    rows_deleted  bigint NOT NULL DEFAULT 0,
    rows_skipped  bigint NOT NULL DEFAULT 0,
    rows_failed   bigint NOT NULL DEFAULT 0,
    rows_purged   bigint NOT NULL DEFAULT 0,
    error       text
);
CREATE INDEX workflow_runs_started ON ferry.workflow_runs (started_at DESC);
CREATE INDEX workflow_runs_schema ON ferry.workflow_runs (schema_id, started_at DESC);

-- Batches claimed by the sync and not yet marked: what a restarted worker resumes (never found by scanning).
CREATE TABLE ferry.sync_batches (
    batch_id    uuid PRIMARY KEY,
    schema_id   text NOT NULL,
    first_seq   bigint NOT NULL,
    row_count   integer NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX sync_batches_schema ON ferry.sync_batches (schema_id, first_seq);
