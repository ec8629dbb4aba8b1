-- Support's search at a practice group's scale: every way of looking a patient up reads an index
-- (names and usernames by prefix, a date of birth, a mobile's last digits) rather than every row.
-- Prefixes are ranges in byte order ("C"), whatever the database's own collation.
CREATE INDEX accounts_by_family_key ON accounts ((lower(family_name) COLLATE "C"));
CREATE INDEX accounts_by_given_key ON accounts ((lower(given_name) COLLATE "C"));
CREATE INDEX accounts_by_username_prefix ON accounts ((username_key COLLATE "C"));
CREATE INDEX accounts_by_date_of_birth ON accounts (date_of_birth);
CREATE INDEX accounts_by_mobile_ending ON accounts ((right(mobile, 3)));
CREATE INDEX accounts_by_pending_mobile_ending ON accounts ((right(pending_mobile, 3)))
    WHERE pending_mobile IS NOT NULL;
-- Replaced by the case-blind key above.
DROP INDEX accounts_by_family_name;
-- Sweeps find what has ended by time.
CREATE INDEX challenges_by_expiry ON challenges (expires_at);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sms_outbox_by_created ON sms_outbox (created_at);
CREATE INDEX limit_events_by_time ON limit_events (at);

-- Set when `server generate-demo-data` filled this database: only such a database (or an empty
-- one) may be filled again.
CREATE TABLE demo_data (
    generated_at BIGINT NOT NULL,
    patients     BIGINT NOT NULL,
    audit_lines  BIGINT NOT NULL
);

-- Fewer and smaller audit indexes, so that writing a line stays as cheap at thirty million lines
-- as at none: (account_id, id) does what (account_id, at) did, and only the few lines a staff
-- member wrote, or that name a username nobody has, are in the other two.
DROP INDEX audit_events_by_account;
DROP INDEX audit_events_by_staff;
CREATE INDEX audit_events_by_staff ON audit_events (staff_id, id) WHERE staff_id IS NOT NULL;
DROP INDEX audit_events_by_typed_username;
CREATE INDEX audit_events_by_typed_username ON audit_events (lower(username), id)
    WHERE account_id IS NULL;
