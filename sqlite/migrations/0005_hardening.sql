-- exposed_at is when a valid credential of the key first arrived over plain HTTP; the
-- exposed flag itself is in 0001.
ALTER TABLE api_keys ADD COLUMN exposed_at INTEGER;

-- audit_checkpoints holds, per account, the last audit record that retention pruned: its
-- sequence number and hash, signed under the audit chain key, so that the chain verifies
-- from the first record kept.
CREATE TABLE audit_checkpoints (
    account_id  TEXT PRIMARY KEY REFERENCES accounts (id),
    seq         INTEGER NOT NULL,
    hash        BLOB NOT NULL,
    record_time INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    signature   BLOB NOT NULL
);

-- Records stay append-only, except that those a checkpoint covers may be deleted: the
-- pruning transaction stores the checkpoint first and deletes after.
DROP TRIGGER audit_records_no_delete;
CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
WHEN NOT EXISTS (SELECT 1 FROM audit_checkpoints c WHERE c.account_id = OLD.account_id AND c.seq >= OLD.seq)
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only');
END;
