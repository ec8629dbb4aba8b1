-- "This wasn't me": the one-time link each security notice carries, only its hash kept. `made_at`
-- is the change's time: securing the account takes back what came after it.
CREATE TABLE wasnt_me_links (
    token_hash TEXT   NOT NULL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    made_at    BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX wasnt_me_links_by_account ON wasnt_me_links (account_id);
CREATE INDEX wasnt_me_links_by_expiry ON wasnt_me_links (expires_at);
-- An account held by "Secure my account": no way in signs it in until the practice lifts it.
CREATE TABLE account_holds (
    account_id BIGINT NOT NULL PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    held_at    BIGINT NOT NULL
);
