-- Each audit line names its patient itself, as they were named when it was written, so that a
-- line reads whole without a look-up in the patients' table (an export of thirty million lines
-- was mostly those look-ups) and stays what it said. Lines about nobody keep the username typed.
UPDATE audit_events AS a
SET username = p.username
FROM accounts AS p
WHERE p.id = a.account_id;
