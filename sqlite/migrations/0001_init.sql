-- Times are microseconds since the Unix epoch, UTC.
CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'active',
    created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    client_id         TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts (id),
    name              TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    scopes            TEXT NOT NULL,
    allowed_ips       TEXT NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    expires_at        INTEGER,
    secret_hash       BLOB NOT NULL,
    secret_generation INTEGER NOT NULL,
    secret_created_at INTEGER NOT NULL,
    prev_secret_hash  BLOB,
    prev_generation   INTEGER,
    prev_rotated_at   INTEGER,
    prev_expires_at   INTEGER,
    prev_last_used_at INTEGER,
    last_used_at      INTEGER,
    last_used_ip      TEXT,
    exposed           INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_by_account ON api_keys (account_id, created_at, client_id);

-- key_changes is the change feed: every write to api_keys appends the client ID here in
-- the same transaction, and running servers apply the rows after the last one they saw.
CREATE TABLE key_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id  TEXT NOT NULL,
    changed_at INTEGER NOT NULL
);

CREATE TABLE vaults (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    name       TEXT NOT NULL,
    threshold  INTEGER NOT NULL,
    status     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX vaults_by_account ON vaults (account_id, id);

-- sealed_secrets holds server secrets (the pepper of the client secret hashes) encrypted
-- under the master key.
CREATE TABLE sealed_secrets (
    name       TEXT PRIMARY KEY,
    sealed     BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE signing_keys (
    kid                TEXT PRIMARY KEY,
    algorithm          TEXT NOT NULL,
    private_key_sealed BLOB NOT NULL,
    public_jwk         TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    active_at          INTEGER NOT NULL,
    retired_at         INTEGER
);
