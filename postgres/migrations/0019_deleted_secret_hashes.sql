-- The schema of sqlite/migrations/0019_deleted_secret_hashes.sql in PostgreSQL types.
-- A tombstone stores the keyed hashes of the secrets that its key had when it was deleted:
-- secret_hash of the current secret and prev_secret_hash of the secret that the key's last
-- rotation replaced, the values that the api_keys row held. The engine loads them at
-- start, so that a client still sending a deleted key's former secret is told apart from
-- someone who has only the client ID across restarts too. prev_secret_hash is NULL for a
-- key that was never rotated. Both are NULL in the tombstones of deletions before this
-- migration, whose hashes are lost.
ALTER TABLE deleted_client_ids ADD COLUMN secret_hash BYTEA;
ALTER TABLE deleted_client_ids ADD COLUMN prev_secret_hash BYTEA;
