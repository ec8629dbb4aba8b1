-- The practice's staff: support and admins. They sign in with a password and an authenticator
-- app (TOTP); the secret is sealed under the server key.
CREATE TABLE staff (
    id              INTEGER PRIMARY KEY,
    username        TEXT    NOT NULL,
    username_key    TEXT    NOT NULL UNIQUE,
    -- 'support' or 'admin'.
    role            TEXT    NOT NULL,
    password_hash   TEXT,
    totp_secret     TEXT,
    -- The last authenticator step accepted: a code works once.
    last_totp_step  BIGINT  NOT NULL DEFAULT 0,
    enrolled_at     BIGINT,
    disabled_at     BIGINT,
    last_sign_in_at BIGINT,
    created_at      BIGINT  NOT NULL
);

-- One-time enrolment links printed by `server staff add`; only the token's hash is kept.
CREATE TABLE staff_enrolments (
    token_hash     TEXT   PRIMARY KEY,
    staff_id       BIGINT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    expires_at     BIGINT NOT NULL,
    -- The secret shown on the enrolment page, sealed, until the first code proves it.
    pending_secret TEXT,
    used_at        BIGINT
);

-- Single-use recovery codes, kept only as an HMAC under the server key.
CREATE TABLE staff_recovery_codes (
    staff_id BIGINT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    code_mac TEXT   NOT NULL,
    used_at  BIGINT,
    PRIMARY KEY (staff_id, code_mac)
);

-- Staff sessions, apart from patients': their own cookie and a shorter idle timeout.
CREATE TABLE staff_sessions (
    id_hash      TEXT   PRIMARY KEY,
    staff_id     BIGINT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);

-- The practice's settings, one row. The environment gives the first values.
CREATE TABLE practice_settings (
    id                      INTEGER PRIMARY KEY CHECK (id = 1),
    two_factor              INTEGER NOT NULL,
    practice_name           TEXT    NOT NULL,
    support_phone           TEXT    NOT NULL,
    support_email           TEXT    NOT NULL,
    -- 'allow' or 'support'.
    first_number_at_login   TEXT    NOT NULL,
    resend_cooldown_seconds BIGINT  NOT NULL,
    updated_at              BIGINT  NOT NULL
);

-- Which staff member acted, where one did.
ALTER TABLE audit_events ADD COLUMN staff_id BIGINT;
CREATE INDEX audit_events_by_time ON audit_events (at);
CREATE INDEX accounts_by_family_name ON accounts (family_name);
