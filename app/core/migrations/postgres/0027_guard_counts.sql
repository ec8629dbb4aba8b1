-- The text fraud guard counts by the minute instead of reading one row per code: for each
-- prefix and country, the codes sent to numbers not yet verified in each minute, and how many
-- of them were verified; and the networks each was asked for from in the last hour. Counts
-- are kept 30 days (they show "Where texts go" on the overview); a code's own row only for
-- the hour it may be verified in.
CREATE TABLE guard_counts (
    -- 'prefix' or 'country'.
    kind     TEXT   NOT NULL,
    subject  TEXT   NOT NULL,
    -- The minute's start (ms).
    minute   BIGINT NOT NULL,
    sent     BIGINT NOT NULL,
    verified BIGINT NOT NULL,
    PRIMARY KEY (kind, subject, minute)
);
CREATE INDEX guard_counts_by_minute ON guard_counts (minute);

CREATE TABLE guard_networks (
    kind      TEXT   NOT NULL,
    subject   TEXT   NOT NULL,
    network   TEXT   NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (kind, subject, network)
);
-- The check counts a subject's networks of the last hour; the sweep reads them all.
CREATE INDEX guard_networks_by_subject_seen ON guard_networks (kind, subject, last_seen);

-- The codes of the last 30 days, counted again by the minute.
INSERT INTO guard_counts (kind, subject, minute, sent, verified)
SELECT 'prefix', prefix, sent_at - sent_at % 60000, COUNT(*),
       SUM(CASE WHEN verified_at IS NULL THEN 0 ELSE 1 END)
FROM guard_codes GROUP BY prefix, sent_at - sent_at % 60000;
INSERT INTO guard_counts (kind, subject, minute, sent, verified)
SELECT 'country', country, sent_at - sent_at % 60000, COUNT(*),
       SUM(CASE WHEN verified_at IS NULL THEN 0 ELSE 1 END)
FROM guard_codes GROUP BY country, sent_at - sent_at % 60000;
INSERT INTO guard_networks (kind, subject, network, last_seen)
SELECT 'prefix', prefix, network, MAX(sent_at) FROM guard_codes GROUP BY prefix, network;
INSERT INTO guard_networks (kind, subject, network, last_seen)
SELECT 'country', country, network, MAX(sent_at) FROM guard_codes GROUP BY country, network;

-- A code's row is now looked up only by its number.
DROP INDEX guard_codes_by_prefix;
DROP INDEX guard_codes_by_country;
