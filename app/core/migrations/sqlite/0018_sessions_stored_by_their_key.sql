-- Sessions and codes are stored in the order of their keys, each in a single b-tree. A session is
-- found, replaced and ended by its key (the hash of its cookie's ID), and a code by its session's;
-- stored with a separate row number, each of those was two searches, of the key's index and
-- then of the table, and at a million sessions each search is a level or two deeper.
--
-- A code belongs to its session, so the codes are set aside while the sessions are rebuilt:
-- dropping the old sessions table would otherwise end every code with it.
CREATE TABLE challenges_kept AS SELECT * FROM challenges;
DROP TABLE challenges;

CREATE TABLE sessions_by_key (
    id_hash      TEXT   PRIMARY KEY,
    account_id   BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- 'registered' or 'password_accepted' (both waiting for a code), or 'signed_in'.
    stage        TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    -- When the session ends regardless of activity: the pending limit, or the absolute lifetime.
    expires_at   BIGINT NOT NULL,
    device       TEXT,
    proved_at    BIGINT
) WITHOUT ROWID;
INSERT INTO sessions_by_key (id_hash, account_id, stage, created_at, last_seen_at, expires_at,
                             device, proved_at)
    SELECT id_hash, account_id, stage, created_at, last_seen_at, expires_at, device, proved_at
    FROM sessions ORDER BY id_hash;
DROP TABLE sessions;
ALTER TABLE sessions_by_key RENAME TO sessions;
CREATE INDEX sessions_by_account ON sessions (account_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE challenges (
    session_id_hash TEXT    NOT NULL REFERENCES sessions (id_hash) ON DELETE CASCADE,
    -- 'sign_in', 'new_number' or 'step_up'.
    purpose         TEXT    NOT NULL,
    account_id      BIGINT  NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    mobile          TEXT    NOT NULL,
    -- HMAC-SHA256 of the code under the server key; the code itself is never stored.
    code_mac        TEXT    NOT NULL,
    sent_at         BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    sms_id          BIGINT,
    PRIMARY KEY (session_id_hash, purpose)
) WITHOUT ROWID;
INSERT INTO challenges (session_id_hash, purpose, account_id, mobile, code_mac, sent_at,
                        expires_at, failed_attempts, sms_id)
    SELECT session_id_hash, purpose, account_id, mobile, code_mac, sent_at, expires_at,
           failed_attempts, sms_id
    FROM challenges_kept ORDER BY session_id_hash, purpose;
DROP TABLE challenges_kept;
CREATE INDEX challenges_by_account ON challenges (account_id);
CREATE INDEX challenges_by_expiry ON challenges (expires_at);
