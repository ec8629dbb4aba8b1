-- Texts through more than one provider: which one carried a text, and which one each attempt
-- tried. The attempts of each provider, newest first, are its circuit's memory, shared by every
-- instance.
ALTER TABLE sms_outbox ADD COLUMN provider TEXT;
ALTER TABLE sms_attempts ADD COLUMN provider TEXT;
CREATE INDEX sms_attempts_by_provider ON sms_attempts (provider, at);
