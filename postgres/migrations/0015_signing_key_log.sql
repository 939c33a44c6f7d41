-- The schema of sqlite/migrations/0015_signing_key_log.sql in PostgreSQL types.
-- The audit log of the token-signing keys is the chain of this reserved account in
-- audit_records, so that it has the append-only trigger, the hash chain, retention with
-- signed checkpoints, the privileges of the node role and the checks of "iogate audit
-- verify" of every account's log. audit_records and audit_checkpoints reference accounts,
-- so the log needs this row. The stores hide it: it is never found, listed, counted or
-- suspended as an account, so no key, vault or user can be created in it. Its ID is not a
-- UUID, so no account created by iogate can have it. created_at is the time of this
-- migration.
INSERT INTO accounts (id, name, email, status, created_at)
VALUES ('signing-keys', 'Token-signing keys (reserved by iogate)', '', 'active', now())
ON CONFLICT (id) DO NOTHING;
