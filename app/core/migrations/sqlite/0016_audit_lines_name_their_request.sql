-- Each audit line names the request that wrote it (its `X-Request-Id`), so that a line can be
-- found in the logs and a patient's reference in the audit.
ALTER TABLE audit_events ADD COLUMN request_id TEXT;
