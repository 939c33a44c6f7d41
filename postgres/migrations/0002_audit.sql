-- The schema of sqlite/migrations/0002_audit.sql in PostgreSQL types.
-- audit_records is the audit log: per account, a chain of records numbered by seq from 1,
-- each holding the hash of the one before it. details is TEXT, not a JSON type, because the
-- chain hash covers its bytes exactly as written.
CREATE TABLE audit_records (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    seq        BIGINT NOT NULL,
    id         TEXT NOT NULL UNIQUE,
    at         TIMESTAMPTZ NOT NULL,
    event      TEXT NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id   TEXT NOT NULL,
    actor_ip   TEXT NOT NULL DEFAULT '',
    client_id  TEXT NOT NULL DEFAULT '',
    token_id   TEXT NOT NULL DEFAULT '',
    reason     TEXT NOT NULL DEFAULT '',
    details    TEXT NOT NULL DEFAULT '',
    prev_hash  BYTEA NOT NULL,
    hash       BYTEA NOT NULL,
    PRIMARY KEY (account_id, seq)
);
CREATE INDEX audit_records_by_client ON audit_records (account_id, client_id, seq);
CREATE INDEX audit_records_by_actor ON audit_records (account_id, actor_id, seq);
CREATE INDEX audit_records_by_event ON audit_records (account_id, event, seq);

-- The log is append-only. The trigger stops accidental edits through SQL; the hash chain
-- is what detects an edit made by someone who drops it.
CREATE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit records are append-only';
END;
$$;
CREATE TRIGGER audit_records_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();
