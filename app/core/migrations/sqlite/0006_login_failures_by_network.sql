-- A username's run of failed logins from one network (`Caller::network`), so that a stranger's
-- guesses elsewhere never hold back the patient or staff member on their own network.
-- `login_failures` keeps the run across every network, for the ceiling after which the account
-- waits everywhere.
CREATE TABLE login_failures_by_network (
    username_key   TEXT    NOT NULL,
    network        TEXT    NOT NULL,
    failures       INTEGER NOT NULL,
    last_failed_at BIGINT  NOT NULL,
    delayed_until  BIGINT  NOT NULL,
    PRIMARY KEY (username_key, network)
);

-- Delays set before they were kept per network would hold every network back.
UPDATE login_failures SET delayed_until = 0;
