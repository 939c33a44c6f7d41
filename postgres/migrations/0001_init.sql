-- The schema of sqlite/migrations/0001_init.sql in PostgreSQL types: times are TIMESTAMPTZ
-- (microsecond precision, like the SQLite integers), hashes and sealed values BYTEA. IDs
-- that lists are ordered by use the "C" collation, which orders bytes as SQLite does.
CREATE TABLE accounts (
    id         TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'active',
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_keys (
    client_id         TEXT COLLATE "C" PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts (id),
    name              TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    scopes            TEXT NOT NULL,
    allowed_ips       TEXT NOT NULL DEFAULT '',
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    expires_at        TIMESTAMPTZ,
    secret_hash       BYTEA NOT NULL,
    secret_generation INTEGER NOT NULL,
    secret_created_at TIMESTAMPTZ NOT NULL,
    prev_secret_hash  BYTEA,
    prev_generation   INTEGER,
    prev_rotated_at   TIMESTAMPTZ,
    prev_expires_at   TIMESTAMPTZ,
    prev_last_used_at TIMESTAMPTZ,
    last_used_at      TIMESTAMPTZ,
    last_used_ip      TEXT,
    exposed           BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX api_keys_by_account ON api_keys (account_id, created_at, client_id);

-- key_changes is the change feed: every write to api_keys appends the client ID here in
-- the same transaction, and running servers apply the rows after the last one they saw.
CREATE TABLE key_changes (
    seq        BIGINT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL
);

-- key_change_counter numbers key_changes. A sequence would not do: two transactions can
-- draw 10 and 11 and commit 11 first, and a server that has applied 11 never asks for 10.
-- Incrementing this one row locks it until commit, so numbers follow commit order.
CREATE TABLE key_change_counter (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO key_change_counter (id, seq) VALUES (1, 0);

CREATE TABLE vaults (
    id         TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    name       TEXT NOT NULL,
    threshold  INTEGER NOT NULL,
    status     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX vaults_by_account ON vaults (account_id, id);

-- sealed_secrets holds server secrets (the pepper of the client secret hashes) encrypted
-- under the master key.
CREATE TABLE sealed_secrets (
    name       TEXT PRIMARY KEY,
    sealed     BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE signing_keys (
    kid                TEXT PRIMARY KEY,
    algorithm          TEXT NOT NULL,
    private_key_sealed BYTEA NOT NULL,
    public_jwk         TEXT NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    active_at          TIMESTAMPTZ NOT NULL,
    retired_at         TIMESTAMPTZ
);
