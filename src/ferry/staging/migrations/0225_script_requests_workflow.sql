-- `ferry workflow run NAME` while a running `ferry serve` holds the DuckDB warehouse: the request names the
-- workflow (the server runs it as that workflow's run, with its stored script and instance.vars) and, once run,
-- the recorded run, whose log and outcome the CLI prints.
ALTER TABLE ferry.script_requests ADD COLUMN workflow text, ADD COLUMN run_id uuid;
