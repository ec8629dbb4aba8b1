-- The text fraud guard: every code to a number not yet verified, with its prefix (the number
-- less its last 4 digits), country and network, and when it was verified, if it was. Kept 30
-- days. And what the guard blocked (or, watching, would have), and what an admin allowed.
CREATE TABLE guard_codes (
    id          INTEGER PRIMARY KEY,
    prefix      TEXT   NOT NULL,
    country     TEXT   NOT NULL,
    number      TEXT   NOT NULL,
    network     TEXT   NOT NULL,
    sent_at     BIGINT NOT NULL,
    verified_at BIGINT
);
CREATE INDEX guard_codes_by_prefix ON guard_codes (prefix, sent_at);
CREATE INDEX guard_codes_by_country ON guard_codes (country, sent_at);
CREATE INDEX guard_codes_by_number ON guard_codes (number, sent_at);
CREATE INDEX guard_codes_by_sent ON guard_codes (sent_at);

CREATE TABLE guard_blocks (
    -- 'prefix' or 'country'.
    kind          TEXT   NOT NULL,
    subject       TEXT   NOT NULL,
    blocked_until BIGINT NOT NULL,
    -- 0: watched only (Watch, or at home without "Block at home too").
    enforced      BIGINT NOT NULL,
    -- What tripped it: codes counted, verified, networks.
    counts        TEXT   NOT NULL,
    allowed_until BIGINT,
    PRIMARY KEY (kind, subject)
);

ALTER TABLE practice_settings ADD COLUMN text_fraud_guard TEXT NOT NULL DEFAULT 'block';
ALTER TABLE practice_settings ADD COLUMN block_at_home BIGINT NOT NULL DEFAULT 0;
