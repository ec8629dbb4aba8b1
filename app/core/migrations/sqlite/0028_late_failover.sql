-- What each text is for (a code's purpose, or 'notice'): texts sent are counted by purpose.
ALTER TABLE sms_outbox ADD COLUMN purpose TEXT;
-- A text is tried first through the provider after this one: the one that carried the step's
-- last text undelivered, or that reported this text failed.
ALTER TABLE sms_outbox ADD COLUMN after_provider TEXT;
-- How often a failure reported after sending moved this text to the next provider.
ALTER TABLE sms_outbox ADD COLUMN failovers BIGINT NOT NULL DEFAULT 0;
-- A sent text's sealed body and number are kept until then, for a report of failed or
-- undelivered within the practice's wait, then dropped.
ALTER TABLE sms_outbox ADD COLUMN kept_until BIGINT;
CREATE INDEX sms_outbox_by_kept_until ON sms_outbox (kept_until);
