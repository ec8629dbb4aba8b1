-- A new number is kept apart until its code comes back: the verified number stays the sign-in
-- factor, so a password alone can never move it.
ALTER TABLE accounts ADD COLUMN pending_mobile TEXT;
-- Whether the account may give its first number after the password (flow 2.2): only until a
-- number has been verified. Support's reset of a lost number gives it back.
ALTER TABLE accounts ADD COLUMN first_number_at_login INTEGER NOT NULL DEFAULT 1;
UPDATE accounts SET first_number_at_login = 0
 WHERE mobile_verified_at IS NOT NULL
    OR id IN (SELECT account_id FROM audit_events
               WHERE event IN ('code_verified', 'mobile_verified') AND outcome = 'ok'
                 AND account_id IS NOT NULL);
-- When a one-time password from the practice stops working; NULL for the patient's own.
ALTER TABLE accounts ADD COLUMN password_expires_at BIGINT;
UPDATE accounts SET password_expires_at = created_at + 14 * 86400000 WHERE must_change_password = 1;

-- Codes belong to the session that asked for them: a second session of the same account can't
-- use up the first one's tries or ride its cooldown. Live codes are dropped by this change.
DROP TABLE challenges;
CREATE TABLE challenges (
    session_id_hash TEXT    NOT NULL REFERENCES sessions (id_hash) ON DELETE CASCADE,
    -- 'sign_in' or 'new_number'.
    purpose         TEXT    NOT NULL,
    account_id      BIGINT  NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    mobile          TEXT    NOT NULL,
    -- HMAC-SHA256 of the code under the server key; the code itself is never stored.
    code_mac        TEXT    NOT NULL,
    sent_at         BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    sms_id          BIGINT,
    PRIMARY KEY (session_id_hash, purpose)
);
CREATE INDEX challenges_by_account ON challenges (account_id);

-- A refused login names the username as typed when no account has it.
ALTER TABLE audit_events ADD COLUMN username TEXT;

-- Which account a text was for, so that support can see a patient's texts; the number itself is
-- masked once the message is done.
ALTER TABLE sms_outbox ADD COLUMN account_id BIGINT;
CREATE INDEX sms_outbox_by_account ON sms_outbox (account_id, id);

-- The console mailer's copy of what it "sent", for developers and end-to-end tests.
CREATE TABLE dev_email (
    id         INTEGER PRIMARY KEY,
    to_address TEXT   NOT NULL,
    subject    TEXT   NOT NULL,
    body       TEXT   NOT NULL,
    sent_at    BIGINT NOT NULL
);
