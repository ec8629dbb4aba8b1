-- "Name in texts" (empty: the practice name, fitted to a text) and the "Daily text budget"
-- (NULL until the first start after this, which stores PORTAL_LIMIT_SENDS_PER_DAY's value).
ALTER TABLE practice_settings ADD COLUMN name_in_texts TEXT NOT NULL DEFAULT '';
ALTER TABLE practice_settings ADD COLUMN daily_text_budget BIGINT;

-- When admins were last warned that the day's texts reached 80 % of the budget: one warning a
-- day, whichever instance sees it first.
CREATE TABLE text_budget_warnings (
    id BIGINT PRIMARY KEY,
    warned_at BIGINT NOT NULL
);
