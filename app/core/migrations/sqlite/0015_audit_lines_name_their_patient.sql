-- Each audit line names its patient itself, as they were named when it was written, so that a
-- line reads whole without a look-up in the patients' table (an export of thirty million lines
-- was mostly those look-ups) and stays what it said. Lines about nobody keep the username typed.
UPDATE audit_events
SET username = (SELECT username FROM accounts WHERE accounts.id = audit_events.account_id)
WHERE account_id IS NOT NULL;
