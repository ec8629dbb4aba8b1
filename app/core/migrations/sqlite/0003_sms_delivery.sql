-- Every delivery attempt, for support and for the practice's SMS bills.
CREATE TABLE sms_attempts (
    id          INTEGER PRIMARY KEY,
    sms_id      BIGINT  NOT NULL REFERENCES sms_outbox (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    at          BIGINT  NOT NULL,
    took_ms     BIGINT  NOT NULL,
    -- 'sent', 'retry' or 'failed'.
    outcome     TEXT    NOT NULL,
    detail      TEXT
);
CREATE INDEX sms_attempts_by_sms ON sms_attempts (sms_id);

-- What the provider later reports (Twilio's status callbacks): queued, sent, delivered, failed…
ALTER TABLE sms_outbox ADD COLUMN delivery_status TEXT;
ALTER TABLE sms_outbox ADD COLUMN delivery_updated_at BIGINT;
CREATE INDEX sms_outbox_by_provider_ref ON sms_outbox (provider_ref);
