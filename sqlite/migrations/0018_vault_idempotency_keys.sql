-- A vault created with an idempotency key (the Idempotency-Key header of POST /v1/vaults)
-- stores the key, so that a repeat of the request returns this vault instead of creating
-- another. Keys are scoped to the account and kept as long as the vault. Vaults created
-- without a key, and those created before this migration, keep a NULL key, which the
-- partial index leaves out.
ALTER TABLE vaults ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX vaults_by_idempotency_key ON vaults (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
