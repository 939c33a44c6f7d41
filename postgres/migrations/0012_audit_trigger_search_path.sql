-- The audit triggers run as the role whose statement fires them, with that session's
-- search_path. A node role could therefore change what they read: a temporary table named
-- audit_checkpoints, which PostgreSQL looks up before every schema on the path, or "=" and
-- ">=" operators of its own placed before pg_catalog made any record look covered by a
-- checkpoint, so the role could delete an account's newest records and "iogate audit
-- verify" still passed. Pinned to the schema of the tables, with pg_temp last,
-- pg_catalog's operators and the real audit_checkpoints are the ones found.
-- CREATE OR REPLACE FUNCTION drops this setting: a later migration that redefines either
-- function must pin its search_path again.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION %I.audit_records_append_only() SET search_path = %I, pg_temp',
        current_schema(), current_schema());
    EXECUTE format('ALTER FUNCTION %I.audit_checkpoints_forward_only() SET search_path = %I, pg_temp',
        current_schema(), current_schema());
END;
$$;
