-- Operators (who may call ferry) and their sessions. Passwords are argon2id hashes; tokens are stored as SHA-256.
CREATE TABLE ferry.operators (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login         text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    admin         boolean NOT NULL DEFAULT false,
    schemas       text[] NOT NULL DEFAULT '{}',
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ferry.sessions (
    session_hash  bytea PRIMARY KEY,
    security_hash bytea NOT NULL,
    operator_id   bigint NOT NULL REFERENCES ferry.operators (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz
);
CREATE INDEX sessions_expires ON ferry.sessions (expires_at);
CREATE INDEX sessions_operator ON ferry.sessions (operator_id);
