-- The portal's tables. Times are Unix milliseconds (BIGINT) and identifiers are text or integers,
-- so that the same statements run on PostgreSQL.

CREATE TABLE accounts (
    id                 INTEGER PRIMARY KEY,
    username           TEXT    NOT NULL,
    -- Lower-cased username: usernames are unique regardless of case.
    username_key       TEXT    NOT NULL UNIQUE,
    password_hash      TEXT    NOT NULL,
    given_name         TEXT    NOT NULL,
    family_name        TEXT    NOT NULL,
    date_of_birth      TEXT    NOT NULL,
    email              TEXT,
    -- E.164 once validated; an imported number may be a landline or anything the practice had on file.
    mobile             TEXT,
    mobile_verified_at BIGINT,
    created_at         BIGINT  NOT NULL
);

-- One row per browser session. The cookie holds a 256-bit random ID; only its SHA-256 is kept here.
CREATE TABLE sessions (
    id_hash      TEXT   PRIMARY KEY,
    account_id   BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- 'registered' or 'password_accepted' (both waiting for a code), or 'signed_in'.
    stage        TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    -- When the session ends regardless of activity: the pending limit, or the absolute lifetime.
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_by_account ON sessions (account_id);

-- The one live one-time code per account and purpose. A new code replaces the old row.
CREATE TABLE challenges (
    account_id      BIGINT  NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- 'sign_in' or 'change_mobile'.
    purpose         TEXT    NOT NULL,
    mobile          TEXT    NOT NULL,
    -- HMAC-SHA256 of the code under the server key; the code itself is never stored.
    code_mac        TEXT    NOT NULL,
    sent_at         BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    -- The outbox message that carries this code.
    sms_id          BIGINT,
    PRIMARY KEY (account_id, purpose)
);

-- Every text message the portal sends. The body is sealed under the server key until delivered,
-- then dropped; only delivery facts remain.
CREATE TABLE sms_outbox (
    id              INTEGER PRIMARY KEY,
    to_number       TEXT    NOT NULL,
    sealed_body     TEXT,
    -- 'pending', 'sending', 'sent' or 'failed'.
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      BIGINT  NOT NULL,
    next_attempt_at BIGINT  NOT NULL,
    -- Nobody wants a code after it has expired: retries stop here.
    give_up_at      BIGINT  NOT NULL,
    lease_until     BIGINT,
    sent_at         BIGINT,
    provider_ref    TEXT,
    last_error      TEXT
);
CREATE INDEX sms_outbox_due ON sms_outbox (status, next_attempt_at);

-- The console provider's copy of what it "sent", for developers and end-to-end tests.
CREATE TABLE dev_sms (
    id        INTEGER PRIMARY KEY,
    to_number TEXT   NOT NULL,
    body      TEXT   NOT NULL,
    sent_at   BIGINT NOT NULL
);

-- Who did what, when, from where, and how it went. Never secrets.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY,
    at         BIGINT NOT NULL,
    account_id BIGINT,
    ip         TEXT   NOT NULL,
    event      TEXT   NOT NULL,
    outcome    TEXT   NOT NULL,
    detail     TEXT
);
CREATE INDEX audit_events_by_account ON audit_events (account_id, at);
