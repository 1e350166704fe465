-- The script run (`ferry js`, a workflow run) that staged a call: each call keeps its own request id (the group
-- committer resolves in-doubt commits by it), and `run_id` gathers a run's calls for /api/v1/requests/{run id}.
ALTER TABLE ferry.requests ADD COLUMN run_id uuid;
CREATE INDEX requests_run ON ferry.requests (run_id) WHERE run_id IS NOT NULL;
