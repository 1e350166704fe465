-- A session that sets ferry.notify_staged = 'after' notifies on its own once its transaction has committed (the
-- group-commit writers, `ferry.staging.notify.Notifier`): a NOTIFY inside a transaction makes its commit take a
-- database-wide lock held across the commit's WAL flush, so the writers' commits went one at a time and never
-- shared a flush. Every other session still notifies at commit, as before.
CREATE OR REPLACE FUNCTION ferry.notify_staged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('ferry.notify_staged', true) IS DISTINCT FROM 'after' THEN
        PERFORM pg_notify('ferry_staged', TG_ARGV[0]);
    END IF;
    RETURN NULL;
END
$$;
