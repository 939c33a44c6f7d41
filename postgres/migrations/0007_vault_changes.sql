-- key_changes also announces changes of an account's vaults, so that every server drops
-- its in-memory copy of them. Rows of kind 'vaults' name the account here and have no
-- client ID.
ALTER TABLE key_changes ADD COLUMN account_id TEXT NOT NULL DEFAULT '';
