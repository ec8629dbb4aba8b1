-- The audit log is a chain: each line names the line before it and carries a SHA-256 over its
-- own fields and that line's hash, so that a line changed, removed or put in afterwards shows
-- (`server audit verify`). Lines written before this migration are outside the chain: the
-- anchor says which line the chain begins at, and what it follows.
ALTER TABLE audit_events ADD COLUMN chain_previous BIGINT;
ALTER TABLE audit_events ADD COLUMN chain_hash TEXT;
CREATE TABLE audit_chain_anchor (
    -- There is one anchor.
    id            BIGINT PRIMARY KEY CHECK (id = 1),
    first_line    BIGINT NOT NULL,
    -- The line the first one follows, and its hash (none before the first chained line).
    previous_line BIGINT,
    previous_hash TEXT,
    set_at        BIGINT NOT NULL
);
