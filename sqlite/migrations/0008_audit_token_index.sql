-- token.issued records, one per access token, are most of the audit log. In
-- audit_records_by_client each entry sits on a page of its own client, so a group commit of
-- N tokens for N keys wrote N scattered index pages to the WAL, about half of every commit.
-- Those records now leave that index. audit_token_clients indexes them by client instead,
-- written in batches by the server every few seconds (DB.IndexTokenRecords), so that a
-- page collects the entries of several seconds rather than of one commit. audit_token_marks holds,
-- per account, the sequence number up to which audit_token_clients is complete; queries
-- read the records above it from audit_records itself.
DROP INDEX audit_records_by_client;
CREATE INDEX audit_records_by_client ON audit_records (account_id, client_id, seq) WHERE event <> 'token.issued';

CREATE TABLE audit_token_clients (
    account_id TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (account_id, client_id, seq)
) WITHOUT ROWID;

CREATE TABLE audit_token_marks (
    account_id TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL
);

INSERT INTO audit_token_clients (account_id, client_id, seq)
    SELECT account_id, client_id, seq FROM audit_records WHERE event = 'token.issued';
INSERT INTO audit_token_marks (account_id, seq)
    SELECT account_id, MAX(seq) FROM audit_records GROUP BY account_id;
