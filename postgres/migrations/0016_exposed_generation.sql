-- The schema of sqlite/migrations/0016_exposed_generation.sql in PostgreSQL types.
-- exposed_generation is the newest secret generation whose secret, or an access token it
-- minted, arrived over plain HTTP. A key counts as exposed only while the secret of that
-- generation still authenticates: as the current secret, or as the previous one until the
-- rotation's grace period ends. exposed and exposed_at stay as the record of the exposure.
-- 0 on an exposed key means that no generation is known, as when an iogate older than the
-- column recorded the exposure. The exposure then counts as one of the current secret, and
-- the next rotation stores that generation, so the exposure ends as any other does.
ALTER TABLE api_keys ADD COLUMN exposed_generation INTEGER NOT NULL DEFAULT 0;

-- Exposures recorded before this migration stored no generation, so it is taken from the
-- newest key.exposed audit record of the key. A record older than the current secret
-- exposed an older secret, so the previous generation at most. Otherwise, and when
-- retention has pruned every such record, the current generation is assumed, so that no
-- exposed secret that still works stops being shown.
UPDATE api_keys SET exposed_generation = CASE
    WHEN (SELECT max(r.at) FROM audit_records r
          WHERE r.account_id = api_keys.account_id AND r.event = 'key.exposed' AND r.client_id = api_keys.client_id)
         < secret_created_at THEN secret_generation - 1
    ELSE secret_generation
END
WHERE exposed;
