-- Browsers a patient asked not to be asked for a code on. The next sign-in there needs the
-- password only. The cookie holds 256 random bits; only their SHA-256 is kept here.
CREATE TABLE remembered_devices (
    id           INTEGER PRIMARY KEY,
    account_id   BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    token_hash   TEXT   NOT NULL UNIQUE,
    -- Browser and platform, as the patient's security page names it ("Firefox on Windows").
    description  TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    -- The practice's number of days when it was remembered; a lower number set later ends it sooner.
    expires_at   BIGINT NOT NULL
);
CREATE INDEX remembered_devices_by_account ON remembered_devices (account_id);

-- How many days a remembered device skips the code (0: the practice doesn't offer it).
ALTER TABLE practice_settings ADD COLUMN remember_device_days BIGINT NOT NULL DEFAULT 30;

-- The browser and platform of each session, for "Where you're signed in".
ALTER TABLE sessions ADD COLUMN device TEXT;
