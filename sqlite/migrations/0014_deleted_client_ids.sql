-- deleted_client_ids holds a tombstone for every deleted API key: its account, its client
-- ID and when it was deleted. DeleteAPIKey writes it in the transaction that deletes the
-- key, and CreateAPIKey rejects a client ID that has a tombstone in the key's account.
-- Access tokens carry the client ID, the account and the secret generation, which starts
-- at 1 again, so a key imported under a deleted key's client ID would accept the deleted
-- key's unexpired tokens, revoked ones included.
--
-- Tombstones are kept forever. A row holds two UUIDs and a time, and only key deletions
-- add rows. Pruning would be safe only once every token of the deleted key has expired.
-- But the token lifetime is a setting of each server (--token-ttl), which the CLI that
-- imports a key does not know, and a node's clock can be wrong, so the store has no bound
-- that it could check.
CREATE TABLE deleted_client_ids (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    client_id  TEXT NOT NULL,
    deleted_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, client_id)
) WITHOUT ROWID;

-- Until now the key.deleted audit records were the only trace of a deleted key, so the
-- keys whose records the audit retention has kept get their tombstones from them. The
-- join reads each account's key.deleted records through audit_records_by_event rather
-- than the whole log, as DeletedAPIKeys does. Keys whose records were already pruned
-- get no tombstone.
INSERT INTO deleted_client_ids (account_id, client_id, deleted_at)
SELECT r.account_id, r.client_id, MAX(r.at)
FROM accounts a CROSS JOIN audit_records r
WHERE r.account_id = a.id AND r.event = 'key.deleted' AND r.client_id <> ''
GROUP BY r.account_id, r.client_id;
