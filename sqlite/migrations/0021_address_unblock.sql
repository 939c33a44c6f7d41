-- key_changes also carries an operator's request to lift the rate limiter's blocks of the
-- addresses in a prefix ("iogate address unblock"). Blocks live in each server's memory, so
-- the change feed brings the request to every server. Rows of kind 'address_unblock' name
-- the CIDR prefix in address and the operating-system user who ran the command in operator,
-- and have no client ID. Other rows leave both empty. Releases without this migration read
-- the table without these columns and ignore the kind.
ALTER TABLE key_changes ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE key_changes ADD COLUMN operator TEXT NOT NULL DEFAULT '';
