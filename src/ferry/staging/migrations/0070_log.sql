-- Staging as an append-only log (issue 13). The sync no longer writes staging rows: what it did is kept here, one
-- row per applied batch plus one per row that did not end `synced`, and a row's state is derived from them.

-- Names this staging database in the batch ids it gives the warehouse's ledger (a batch is "schema + first _seq"
-- of this database, so two databases feeding one warehouse, or a database made again, never share an id).
CREATE TABLE ferry.log_identity (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    id       uuid NOT NULL DEFAULT gen_random_uuid()
);
INSERT INTO ferry.log_identity DEFAULT VALUES;

-- Applied batches, contiguous per schema: every row with `_seq <= last_seq` of a schema's latest batch is applied
-- (its applied horizon). Written after the warehouse commit; the warehouse's ledger is the truth it is rebuilt from.
CREATE TABLE ferry.log_batches (
    schema_id  text NOT NULL,
    first_seq  bigint NOT NULL,
    last_seq   bigint NOT NULL CHECK (last_seq >= first_seq - 1),
    batch_id   uuid,
    row_count  integer NOT NULL,
    done_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (schema_id, first_seq)
);

-- Rows of applied batches that ended `skipped` or `failed`, with their reason (a copy of the ledger's list).
-- `payload` keeps a failed row's columns so re-queue and discard work after retention dropped its partition;
-- `requeued_at` is set when an operator staged it again (the new row carries the same UUID).
CREATE TABLE ferry.log_exceptions (
    schema_id   text NOT NULL,
    seq         bigint NOT NULL,
    row_uuid    uuid NOT NULL,
    state       text NOT NULL CHECK (state IN ('skipped', 'failed')),
    reason      text NOT NULL,
    batch_id    uuid,
    done_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    payload     jsonb,
    requeued_at timestamptz,
    PRIMARY KEY (schema_id, seq)
);
CREATE INDEX log_exceptions_uuid ON ferry.log_exceptions (row_uuid);
CREATE INDEX log_exceptions_open ON ferry.log_exceptions (schema_id, state, seq) WHERE requeued_at IS NULL;

-- Batches an older ferry claimed and never marked, kept by the layout upgrade (`ferry.staging.upgrade`) until the
-- first sync asks the warehouse's ledger about them. Their rows got new `_seq` values right after the applied
-- horizon (`seq_map`: old → new), in claim order, so a batch the warehouse did apply is recorded as applied.
CREATE TABLE ferry.log_legacy_batches (
    schema_id text NOT NULL,
    batch_id  uuid NOT NULL,
    first_seq bigint NOT NULL,
    last_seq  bigint NOT NULL,
    seq_map   jsonb NOT NULL,
    PRIMARY KEY (schema_id, first_seq)
);
