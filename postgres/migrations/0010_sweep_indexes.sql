-- Indexes for the periodic sweep, so that each of its batches finds the rows it deletes
-- without reading the whole table: sessions past their expiry or idle since a time, links
-- that were used or have expired. The used-link index is partial because a link is used
-- once and then swept, so it holds few rows. The sweeps of used_form_tokens and
-- revoked_tokens use used_form_tokens_by_expiry and revoked_tokens_by_expiry.
--
-- CREATE INDEX blocks writes to its table while it builds the index. The sweep has kept
-- these tables to live rows and rows that ended recently, so the block should be short.
-- Migrations run in one transaction, where CREATE INDEX CONCURRENTLY cannot run. To index
-- a large table without blocking writes, create the index with CONCURRENTLY and the same
-- name before the upgrade, and IF NOT EXISTS then leaves it as it is.
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);
CREATE INDEX IF NOT EXISTS sessions_by_last_seen ON sessions (last_seen_at);
CREATE INDEX IF NOT EXISTS user_links_by_expiry ON user_links (expires_at);
CREATE INDEX IF NOT EXISTS user_links_used ON user_links (used_at) WHERE used_at IS NOT NULL;
