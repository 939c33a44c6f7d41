-- Links get an ID and the actor who created them. The ID names an invitation in the list
-- of pending ones and in the request that cancels it, where its token cannot appear. The
-- creator lets the removal or demotion of a user cancel the invitations they made.
-- Setup and reset links stored before this migration keep a NULL ID, which the unique
-- index allows many times.
ALTER TABLE user_links ADD COLUMN id TEXT;
ALTER TABLE user_links ADD COLUMN created_by_type TEXT;
ALTER TABLE user_links ADD COLUMN created_by_id TEXT;
CREATE UNIQUE INDEX user_links_by_id ON user_links (id);

-- Each stored invitation gets a random version 4 UUID, the form of iogate's other IDs.
-- Every randomblob call in the expression runs once per row.
UPDATE user_links SET id = lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||
    substr('89ab', 1 + abs(random()) % 4, 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))
WHERE purpose = 'invite';

-- The creator of a stored invitation is the actor of its user.invited record, which was
-- appended with the same time, email and role as the link. The join reads each account's
-- user.invited records through audit_records_by_event. An invitation whose record the
-- audit retention has pruned keeps no creator, so no removal or demotion cancels it. The
-- CASE keeps json_extract from reading the empty details of other events.
UPDATE user_links SET created_by_type = r.actor_type, created_by_id = r.actor_id
FROM audit_records r
WHERE user_links.purpose = 'invite' AND r.account_id = user_links.account_id AND r.event = 'user.invited'
    AND r.at = user_links.created_at
    AND CASE WHEN r.details <> '' THEN json_extract(r.details, '$.email') END = user_links.email
    AND CASE WHEN r.details <> '' THEN json_extract(r.details, '$.role') END = user_links.role;

-- An invitation whose sender was removed, or lost the owner role that alone may invite,
-- before this upgrade is cancelled here, as a removal or demotion now cancels it. Its link
-- then fails as a used one does. The migration cannot sign audit records, which needs the
-- master key, so these cancellations have none.
UPDATE user_links SET used_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000000
WHERE purpose = 'invite' AND used_at IS NULL AND created_by_type = 'user'
    AND NOT EXISTS (SELECT 1 FROM users u
        WHERE u.id = user_links.created_by_id AND u.account_id = user_links.account_id AND u.role = 'owner');
