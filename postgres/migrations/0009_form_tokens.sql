-- used_form_tokens holds the SHA-256 of each single-use form token that took effect, such
-- as the token of a create-key form, so that a reload that posts the form again changes
-- nothing. A row is kept until expires_at, past the end of the session the token is bound
-- to, after which the token is refused anyway; the dashboard sweep then deletes it.
CREATE TABLE used_form_tokens (
    token_hash BYTEA PRIMARY KEY,
    used_at    TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX used_form_tokens_by_expiry ON used_form_tokens (expires_at);
