-- Workflow scripts asked for by `ferry js` while a running `ferry serve` holds the DuckDB warehouse file: that
-- server takes the request, runs the script (as the operator named, or the local owner who asked), and writes
-- its log lines and outcome here as they come; `ferry js` prints them and exits with the script's status.
CREATE TABLE ferry.script_requests (
    id             uuid PRIMARY KEY,
    filename       text NOT NULL,
    source         text NOT NULL,
    vars           jsonb NOT NULL DEFAULT '{}'::jsonb,
    operator_login text,
    requested_by   text NOT NULL,
    time_limit     double precision NOT NULL CHECK (time_limit > 0),
    requested_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    taken_at       timestamptz,
    taken_by       text,
    ended_at       timestamptz,
    outcome        text,
    error_code     text,
    error_message  text,
    error_file     text,
    line           integer,
    col            integer,
    log            jsonb NOT NULL DEFAULT '[]'::jsonb,
    request_ids    text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX script_requests_open ON ferry.script_requests (requested_at) WHERE taken_at IS NULL;
