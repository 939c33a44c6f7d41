-- The schema of sqlite/migrations/0017_invitation_ids.sql in PostgreSQL types.
-- Links get an ID and the actor who created them. The ID names an invitation in the list
-- of pending ones and in the request that cancels it, where its token cannot appear. The
-- creator lets the removal or demotion of a user cancel the invitations they made.
-- Setup and reset links stored before this migration keep a NULL ID, which the unique
-- index allows many times.
ALTER TABLE user_links ADD COLUMN id TEXT COLLATE "C";
ALTER TABLE user_links ADD COLUMN created_by_type TEXT;
ALTER TABLE user_links ADD COLUMN created_by_id TEXT COLLATE "C";
CREATE UNIQUE INDEX user_links_by_id ON user_links (id);

-- Each stored invitation gets a random version 4 UUID, the form of iogate's other IDs.
UPDATE user_links SET id = gen_random_uuid()::text WHERE purpose = 'invite';

-- The creator of a stored invitation is the actor of its user.invited record, which was
-- appended with the same time, email and role as the link. The join lets the planner
-- read each account's user.invited records through audit_records_by_event. An invitation
-- whose record the audit retention has pruned keeps no creator, so no removal or
-- demotion cancels it. details is TEXT, and the CASE keeps the cast from reading the
-- empty details of other events.
UPDATE user_links l SET created_by_type = r.actor_type, created_by_id = r.actor_id
FROM audit_records r
WHERE l.purpose = 'invite' AND r.account_id = l.account_id AND r.event = 'user.invited' AND r.at = l.created_at
    AND CASE WHEN r.details <> '' THEN r.details::jsonb ->> 'email' END = l.email
    AND CASE WHEN r.details <> '' THEN r.details::jsonb ->> 'role' END = l.role;

-- An invitation whose sender was removed, or lost the owner role that alone may invite,
-- before this upgrade is cancelled here, as a removal or demotion now cancels it. Its link
-- then fails as a used one does. The migration cannot sign audit records, which needs the
-- master key, so these cancellations have none.
UPDATE user_links l SET used_at = now()
WHERE l.purpose = 'invite' AND l.used_at IS NULL AND l.created_by_type = 'user'
    AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = l.created_by_id AND u.account_id = l.account_id AND u.role = 'owner');
