-- Security (issue 15): read-only schema rights, and logon throttling shared by every server on this database.
ALTER TABLE ferry.operators ADD COLUMN IF NOT EXISTS read_schemas text[] NOT NULL DEFAULT '{}';

-- One row per throttled key: kind 'login' (the login typed, known or not) or 'address' (the client address).
CREATE TABLE IF NOT EXISTS ferry.logon_throttle (
    kind         text NOT NULL CHECK (kind IN ('login', 'address')),
    key          text NOT NULL,
    failures     integer NOT NULL,
    last_failure timestamptz NOT NULL,
    locked_until timestamptz,
    PRIMARY KEY (kind, key)
);
CREATE INDEX IF NOT EXISTS logon_throttle_last_failure ON ferry.logon_throttle (last_failure);
