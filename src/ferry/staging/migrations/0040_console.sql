-- What operators did to failed rows from the console: re-queue (the row is staged again) or discard (the row stays
-- `failed`, untouched, and is listed as discarded). `reason` keeps the row's reason at the time of the action.
CREATE TABLE ferry.row_actions (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schema_id text NOT NULL,
    row_uuid  uuid NOT NULL,
    action    text NOT NULL CHECK (action IN ('requeue', 'discard')),
    operator  text NOT NULL,
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    reason    text,
    note      text
);
CREATE INDEX row_actions_row ON ferry.row_actions (row_uuid, at DESC);
CREATE INDEX row_actions_schema ON ferry.row_actions (schema_id, at DESC);
