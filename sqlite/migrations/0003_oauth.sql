-- key_changes also announces changes of the signing keys, so that a running server
-- reloads them when the CLI rotates them. Rows of kind 'signing_keys' have no client ID.
ALTER TABLE key_changes ADD COLUMN kind TEXT NOT NULL DEFAULT 'api_key';

-- revoked_tokens holds the IDs (jti) of access tokens revoked before their expiry. A row
-- is needed only until the token expires; later revocations delete the expired rows.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES api_keys (client_id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
);
CREATE INDEX revoked_tokens_by_client ON revoked_tokens (client_id, expires_at);
CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at);
