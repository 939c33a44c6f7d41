-- The schema of sqlite/migrations/0004_dashboard.sql in PostgreSQL types: dashboard users,
-- sessions, single-use links and recovery codes.

-- require_totp makes every user of the account enrol in TOTP before using the dashboard.
ALTER TABLE accounts ADD COLUMN require_totp BOOLEAN NOT NULL DEFAULT FALSE;

-- Email addresses are unique across accounts because sign-in asks for the address alone.
CREATE TABLE users (
    id               TEXT COLLATE "C" PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    email            TEXT COLLATE "C" NOT NULL UNIQUE,
    role             TEXT NOT NULL,
    password_hash    TEXT NOT NULL,
    -- totp_seed_sealed is the TOTP seed encrypted under the master key. It is set while an
    -- enrolment is pending (totp_enabled false) and once it is confirmed.
    totp_seed_sealed BYTEA,
    totp_enabled     BOOLEAN NOT NULL DEFAULT FALSE,
    -- totp_last_step is the last TOTP time step accepted, so that a code cannot be replayed.
    totp_last_step   BIGINT NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX users_by_account ON users (account_id, email);

-- Sessions are found by the SHA-256 of the ID in the cookie; the ID itself is not stored.
CREATE TABLE sessions (
    id_hash      BYTEA PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    stage        TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    confirmed_at TIMESTAMPTZ NOT NULL,
    ip           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_account ON sessions (account_id);

-- user_links are the single-use setup, invitation and password-reset links, found by the
-- SHA-256 of their token.
CREATE TABLE user_links (
    token_hash BYTEA PRIMARY KEY,
    purpose    TEXT NOT NULL,
    account_id TEXT,
    user_id    TEXT,
    email      TEXT NOT NULL DEFAULT '',
    role       TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);

-- recovery_codes hold the keyed hashes of a user's one-time TOTP recovery codes.
CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BYTEA NOT NULL,
    used_at   TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);
