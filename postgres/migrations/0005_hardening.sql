-- The schema of sqlite/migrations/0005_hardening.sql in PostgreSQL types.
-- exposed_at is when a valid credential of the key first arrived over plain HTTP; the
-- exposed flag itself is in 0001.
ALTER TABLE api_keys ADD COLUMN exposed_at TIMESTAMPTZ;

-- audit_checkpoints holds, per account, the last audit record that retention pruned: its
-- sequence number and hash, signed under the audit chain key, so that the chain verifies
-- from the first record kept.
CREATE TABLE audit_checkpoints (
    account_id  TEXT PRIMARY KEY REFERENCES accounts (id),
    seq         BIGINT NOT NULL,
    hash        BYTEA NOT NULL,
    record_time TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    signature   BYTEA NOT NULL
);

-- Records stay append-only, except that those a checkpoint covers may be deleted: the
-- pruning transaction stores the checkpoint first and deletes after.
CREATE OR REPLACE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (
        SELECT 1 FROM audit_checkpoints c WHERE c.account_id = OLD.account_id AND c.seq >= OLD.seq) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit records are append-only';
END;
$$;
