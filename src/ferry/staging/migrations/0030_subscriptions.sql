-- Information services (the source of truth; the sync mirrors them into the warehouse nms:service table) and the
-- secret signing one-click unsubscribe links (generated on first use).
CREATE TABLE ferry.services (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE,
    label         text NOT NULL DEFAULT '',
    channel       smallint NOT NULL DEFAULT 0 CHECK (channel BETWEEN 0 AND 4),
    validity_days integer CHECK (validity_days IS NULL OR validity_days > 0),
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE ferry.secrets (
    name       text PRIMARY KEY,
    value      bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
