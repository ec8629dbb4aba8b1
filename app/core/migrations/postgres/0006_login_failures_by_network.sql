CREATE TABLE login_failures_by_network (
    username_key   TEXT   NOT NULL,
    network        TEXT   NOT NULL,
    failures       BIGINT NOT NULL,
    last_failed_at BIGINT NOT NULL,
    delayed_until  BIGINT NOT NULL,
    PRIMARY KEY (username_key, network)
);

UPDATE login_failures SET delayed_until = 0;
