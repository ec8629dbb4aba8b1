-- An email address is confirmed by a link ("Confirm your email address", 24 hours) before
-- notices go to it: only the link's hash is kept, and which address it confirms.
CREATE TABLE email_confirmations (
    account_id   BIGINT NOT NULL PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    email        TEXT   NOT NULL,
    token_hash   TEXT,
    expires_at   BIGINT,
    confirmed_at BIGINT
);
CREATE INDEX email_confirmations_by_token ON email_confirmations (token_hash);
-- Addresses given before they were confirmed by a link have had notices all along: they stay
-- confirmed, rather than fall silent.
INSERT INTO email_confirmations (account_id, email, confirmed_at)
    SELECT id, email, created_at FROM accounts WHERE email IS NOT NULL;
