-- Campaign options (`xtk:option`) that clients set with Write (`client.setOption`); ferry's own read-only options
-- (XtkDatabaseId, …) are kept in code (`ferry.options`). Columns are named as the schema's attributes so that a
-- queryDef on xtk:option compiles against this table as against a warehouse table.
CREATE TABLE IF NOT EXISTS ferry.options (
    "id"             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "name"           varchar(64) NOT NULL UNIQUE,
    "dataType"       smallint NOT NULL DEFAULT 6,
    "stringValue"    varchar(255),
    "longValue"      bigint,
    "doubleValue"    double precision,
    "timeStampValue" timestamptz,
    "memoValue"      text,
    "description"    varchar(255),
    "created"        timestamptz NOT NULL DEFAULT now(),
    "lastModified"   timestamptz NOT NULL DEFAULT now(),
    "modifiedBy"     text
);
