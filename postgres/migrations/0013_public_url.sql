-- public_url holds the base URL of the links that "iogate serve" prints and shows, which
-- each server stores when it starts, so that CLI commands that print links, such as
-- "iogate user invite", use it by default. It has at most one row, the one stored last.
CREATE TABLE public_url (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    url         TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);
