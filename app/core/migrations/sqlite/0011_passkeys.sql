-- Passkeys (WebAuthn credentials) a patient added. `passkey` is webauthn-rs's own record of
-- the credential as JSON: its public key, signature counter and backup flags.
CREATE TABLE passkeys (
    id            INTEGER PRIMARY KEY,
    account_id    BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- The credential's ID, base64url: unique across every account.
    credential_id TEXT   NOT NULL UNIQUE,
    name          TEXT   NOT NULL,
    passkey       TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_by_account ON passkeys (account_id);

-- Staff members' passkeys, apart from patients': one signs a staff member in with their password,
-- in place of the authenticator code.
CREATE TABLE staff_passkeys (
    id            INTEGER PRIMARY KEY,
    staff_id      BIGINT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    credential_id TEXT   NOT NULL UNIQUE,
    name          TEXT   NOT NULL,
    passkey       TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX staff_passkeys_by_staff ON staff_passkeys (staff_id);
ALTER TABLE staff ADD COLUMN passkey_user_id TEXT;

-- The random handle an account's passkeys carry as their user ID (a UUID), given with the first.
ALTER TABLE accounts ADD COLUMN passkey_user_id TEXT;
CREATE UNIQUE INDEX accounts_by_passkey_user_id ON accounts (passkey_user_id);

-- A passkey ceremony under way: its state, sealed with the server key, bound to the browser's
-- ceremony cookie (kept here as a hash) and to its session, if any. Used once, for 5 minutes.
CREATE TABLE passkey_ceremonies (
    id_hash      TEXT   PRIMARY KEY,
    -- 'register', 'sign_in' (no account yet: a discoverable passkey) or 'instead' (after a
    -- password, in place of the code); 'staff_register' or 'staff_sign_in' for staff.
    purpose      TEXT   NOT NULL,
    session_hash TEXT,
    -- The patient's account, or for a staff ceremony the staff member.
    account_id   BIGINT,
    state        TEXT   NOT NULL,
    expires_at   BIGINT NOT NULL
);

-- When the session's patient last proved who they are with more than a password and a
-- remembered device (a code or a passkey): adding or removing a passkey needs it recent.
ALTER TABLE sessions ADD COLUMN proved_at BIGINT;

-- The practice's switch for passkeys (on by default).
ALTER TABLE practice_settings ADD COLUMN passkeys INTEGER NOT NULL DEFAULT 1;
