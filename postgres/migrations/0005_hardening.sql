-- exposed_at is when a valid credential of the key first arrived over plain HTTP; the
-- exposed flag itself is in 0001.
ALTER TABLE api_keys ADD COLUMN exposed_at TIMESTAMPTZ;
