-- Runs that end: a run whose process died is closed as 'abandoned'; `owner` names the process that ran it.
ALTER TABLE ferry.workflow_runs DROP CONSTRAINT IF EXISTS workflow_runs_state_check;
ALTER TABLE ferry.workflow_runs ADD CONSTRAINT workflow_runs_state_check
    CHECK (state IN ('running', 'succeeded', 'failed', 'skipped', 'abandoned'));
ALTER TABLE ferry.workflow_runs ADD COLUMN IF NOT EXISTS owner text;

-- The one warehouse this staging database feeds, claimed by the first sync; other warehouses are refused.
CREATE TABLE IF NOT EXISTS ferry.warehouse_identity (
    one         boolean PRIMARY KEY DEFAULT true CHECK (one),
    engine      text NOT NULL,
    identity    text NOT NULL,
    display     text NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    claimed_by  text NOT NULL
);
