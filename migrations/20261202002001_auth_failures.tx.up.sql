-- Failure counts of sign-in and invite redemption, shared by every instance
-- (see the README's security table). key is the SHA-256 of "email:..." or
-- "addr:..."; rows of keys with no failure for a while are forgotten by the
-- next failure (the count restarts) and removed by a success.
CREATE TABLE auth_failures (
    key              text        PRIMARY KEY,
    failures         integer     NOT NULL,
    last_failure_at  timestamptz NOT NULL,
    blocked_until    timestamptz NOT NULL
);
