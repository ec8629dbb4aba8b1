-- How recently a patient must have proved it's them (a code to their verified number, or a
-- passkey) to change their number, email or passkeys: the practice's "Recent proof (minutes)".
ALTER TABLE practice_settings ADD COLUMN recent_proof_minutes BIGINT NOT NULL DEFAULT 10;
-- Ceremonies that ended are deleted by their expiry as new ones begin.
CREATE INDEX passkey_ceremonies_by_expiry ON passkey_ceremonies (expires_at);
-- The audit chain's anchor is sealed with a MAC under a key derived from the server key, as
-- every line written from now on is: someone holding the database alone can't move it.
ALTER TABLE audit_chain_anchor ADD COLUMN anchor_mac TEXT;
-- Audit exports under way, one row each while it runs (renewed, and dropped at its end; a
-- lease that runs out is an instance that stopped mid-export): one per staff member at a time,
-- and two across every instance.
CREATE TABLE audit_exports (
    token       TEXT   PRIMARY KEY,
    staff_id    BIGINT NOT NULL,
    lease_until BIGINT NOT NULL
);
