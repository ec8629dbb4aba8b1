-- An admin's address for alerts (the text fraud guard's blocks, the daily text budget at 80 %),
-- confirmed by a link (24 hours, only its hash kept) before any alert goes to it.
CREATE TABLE staff_alert_emails (
    staff_id     BIGINT NOT NULL PRIMARY KEY REFERENCES staff (id) ON DELETE CASCADE,
    email        TEXT   NOT NULL,
    token_hash   TEXT,
    expires_at   BIGINT,
    confirmed_at BIGINT
);
CREATE INDEX staff_alert_emails_by_token ON staff_alert_emails (token_hash);
