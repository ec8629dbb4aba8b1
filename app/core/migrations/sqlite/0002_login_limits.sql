-- Failed logins per username, known or not, so that the growing delay reveals nothing about
-- which usernames exist. A successful login removes the row.
CREATE TABLE login_failures (
    username_key   TEXT    PRIMARY KEY,
    failures       INTEGER NOT NULL,
    last_failed_at BIGINT  NOT NULL,
    delayed_until  BIGINT  NOT NULL
);

-- Events counted against sliding-window limits: failed logins per IP, texts per account, number,
-- IP and day. Old rows are swept away.
CREATE TABLE limit_events (
    id      INTEGER PRIMARY KEY,
    kind    TEXT   NOT NULL,
    subject TEXT   NOT NULL,
    at      BIGINT NOT NULL
);
CREATE INDEX limit_events_by_subject ON limit_events (kind, subject, at);

-- Patients brought in from the practice's old system may have to choose a new password.
ALTER TABLE accounts ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
