-- Dashboard users, sessions, single-use links and recovery codes. Times are microseconds
-- since the Unix epoch, UTC.

-- require_totp makes every user of the account enrol in TOTP before using the dashboard.
ALTER TABLE accounts ADD COLUMN require_totp INTEGER NOT NULL DEFAULT 0;

-- Email addresses are unique across accounts because sign-in asks for the address alone.
CREATE TABLE users (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    email            TEXT NOT NULL UNIQUE,
    role             TEXT NOT NULL,
    password_hash    TEXT NOT NULL,
    -- totp_seed_sealed is the TOTP seed encrypted under the master key. It is set while an
    -- enrolment is pending (totp_enabled = 0) and once it is confirmed (totp_enabled = 1).
    totp_seed_sealed BLOB,
    totp_enabled     INTEGER NOT NULL DEFAULT 0,
    -- totp_last_step is the last TOTP time step accepted, so that a code cannot be replayed.
    totp_last_step   INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX users_by_account ON users (account_id, email);

-- Sessions are found by the SHA-256 of the ID in the cookie; the ID itself is not stored.
CREATE TABLE sessions (
    id_hash      BLOB PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    stage        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    confirmed_at INTEGER NOT NULL,
    ip           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_account ON sessions (account_id);

-- user_links are the single-use setup, invitation and password-reset links, found by the
-- SHA-256 of their token.
CREATE TABLE user_links (
    token_hash BLOB PRIMARY KEY,
    purpose    TEXT NOT NULL,
    account_id TEXT,
    user_id    TEXT,
    email      TEXT NOT NULL DEFAULT '',
    role       TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);

-- recovery_codes hold the keyed hashes of a user's one-time TOTP recovery codes.
CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BLOB NOT NULL,
    used_at   INTEGER,
    PRIMARY KEY (user_id, code_hash)
);
