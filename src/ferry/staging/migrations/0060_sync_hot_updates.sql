-- The sync finds a claimed batch by its `_seq` range and batch id: the ledger of claims keeps the range's end
-- (NULL for batches claimed before this migration: their range is open-ended).
ALTER TABLE ferry.sync_batches ADD COLUMN last_seq bigint;

-- Existing staging tables take the layout of `ferry.staging.ddl.layout`: no index on `_batch_id` (stamping it is
-- then a HOT update) and pages half empty so the sync's two updates of a row stay on its page.
DO $$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT s.stg_table FROM ferry.schemas s
             WHERE s.staged AND s.stg_table IS NOT NULL AND to_regclass(format('ferry_stg.%I', s.stg_table)) IS NOT NULL
    LOOP
        EXECUTE format('ALTER TABLE ferry_stg.%I SET (fillfactor = 50)', t);
        EXECUTE format('DROP INDEX IF EXISTS ferry_stg.%I', t || '_batch');
    END LOOP;
END
$$;
