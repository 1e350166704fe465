-- Continuous sync (FERRY_SYNC_INTERVAL=0): a staging table's statement-level AFTER INSERT trigger calls this with
-- its schema id. pg_notify is transactional: the listener hears it only once the rows are committed; PostgreSQL
-- folds equal notifications of one transaction into one. See ferry.staging.notify.
CREATE OR REPLACE FUNCTION ferry.notify_staged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ferry_staged', TG_ARGV[0]);
    RETURN NULL;
END
$$;

-- Tables made before this migration get the trigger now (ferry.staging.notify.install_all repairs any later).
DO $$
DECLARE
    s record;
BEGIN
    FOR s IN SELECT id, stg_table FROM ferry.schemas
             WHERE staged AND stg_table IS NOT NULL AND to_regclass(format('ferry_stg.%I', stg_table)) IS NOT NULL
    LOOP
        EXECUTE format('CREATE TRIGGER ferry_notify_staged AFTER INSERT ON ferry_stg.%I FOR EACH STATEMENT '
                       'EXECUTE FUNCTION ferry.notify_staged(%L)', s.stg_table, s.id);
    END LOOP;
END
$$;
