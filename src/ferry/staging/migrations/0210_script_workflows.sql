-- Workflows an operator added (`ferry workflow add`): a stored script run on a schedule as one operator.
-- `script` is the text stored at `add` (a later edit of the file changes nothing until `add --replace`);
-- `next_run_at` is the tick a scheduler claims (compare-and-set, so one server runs each tick);
-- `instance_vars` is the script's `instance.vars`, kept from one run to the next.
CREATE TABLE ferry.script_workflows (
    name           text PRIMARY KEY,
    script         text NOT NULL,
    script_source  text NOT NULL DEFAULT '',
    script_version integer NOT NULL DEFAULT 1,
    script_sha256  text NOT NULL,
    every_seconds  double precision CHECK (every_seconds IS NULL OR every_seconds > 0),
    cron           text,
    operator_login text,
    time_limit     double precision NOT NULL CHECK (time_limit > 0),
    enabled        boolean NOT NULL DEFAULT true,
    next_run_at    timestamptz,
    instance_vars  jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK ((every_seconds IS NULL) <> (cron IS NULL))
);

-- One row per run of such a workflow: outcome, coded error and script position, bounded log, request ids;
-- `scheduled_for` is the tick a scheduled run stands for (NULL when started by hand).
-- Kept apart from ferry.workflow_runs (the sync's counters); `ferry workflows` shows both.
CREATE TABLE ferry.script_runs (
    id             uuid PRIMARY KEY,
    workflow       text NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    ended_at       timestamptz,
    state          text NOT NULL DEFAULT 'running'
                   CHECK (state IN ('running', 'succeeded', 'failed', 'timed_out', 'stopped', 'abandoned')),
    trigger        text NOT NULL,
    scheduled_for  timestamptz,
    started_by     text,
    operator_login text,
    script_version integer NOT NULL,
    script_sha256  text NOT NULL,
    vars           jsonb NOT NULL DEFAULT '{}'::jsonb,
    error_code     text,
    error          text,
    line           integer,
    col            integer,
    log            jsonb NOT NULL DEFAULT '[]'::jsonb,
    log_dropped    integer NOT NULL DEFAULT 0,
    request_ids    text[] NOT NULL DEFAULT '{}',
    owner          text,
    stop_requested boolean NOT NULL DEFAULT false
);
CREATE INDEX script_runs_workflow ON ferry.script_runs (workflow, started_at DESC);
CREATE INDEX script_runs_started ON ferry.script_runs (started_at DESC);
CREATE INDEX script_runs_running ON ferry.script_runs (workflow) WHERE state = 'running';
