-- Idempotency-Key of REST ingest calls: the first answer of a key, per operator, kept 24 hours.
-- Written by the same statement / transaction as the call's rows, so a crash never separates them.
CREATE TABLE IF NOT EXISTS ferry.idempotency (
    operator text NOT NULL,
    key text NOT NULL,
    fingerprint bytea NOT NULL,
    status smallint NOT NULL,
    body bytea NOT NULL,
    request_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (operator, key)
);
CREATE INDEX IF NOT EXISTS idempotency_created ON ferry.idempotency (created_at);
