-- A patient's saved recovery code (a lost phone without a phone call): only its slow hash, when
-- it was made, and when one was last used to recover, for the 24 hours after in which the email
-- address can't change. One per account; a new one replaces it in the same row.
CREATE TABLE recovery_codes (
    account_id   BIGINT NOT NULL PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash    TEXT   NOT NULL,
    made_at      BIGINT NOT NULL,
    recovered_at BIGINT
);
-- "Make signing in easier" put off with "Not now", until when.
CREATE TABLE sign_in_nudges (
    account_id   BIGINT NOT NULL PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    hidden_until BIGINT NOT NULL
);
