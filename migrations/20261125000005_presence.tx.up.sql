-- The last activity of each user, so last_seen survives restarts.
CREATE TABLE user_presence (
    user_id   bigint      PRIMARY KEY,
    last_seen timestamptz NOT NULL,
    platform  text        NOT NULL DEFAULT ''
);
