-- key_changes also announces changes of an account's vaults, so that every server drops
-- its in-memory copy of them. Rows of kind 'vaults' name the account here and have no
-- client ID.
ALTER TABLE key_changes ADD COLUMN account_id TEXT NOT NULL DEFAULT '';

-- audit_records_by_actor leaves out records whose actor is a client, because for those the
-- actor ID is the client ID, which audit_records_by_client indexes already (AuditRecord.Seal
-- rejects a client's record that names another client). Token issuance writes one such
-- record per token, and each entry of this index lands on another page, so it cost every
-- group commit several page writes for entries no query needs.
DROP INDEX audit_records_by_actor;
CREATE INDEX audit_records_by_actor ON audit_records (account_id, actor_id, seq) WHERE actor_type <> 'client';
