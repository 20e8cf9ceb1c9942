-- Emails are now compared folded (NFC, width- and case-folded; see
-- adapters/textcheck.FoldEmail). Existing addresses are folded here with
-- NFKC + lower(), the closest SQL has. Addresses that would collide are not
-- changed and not merged: they are listed in email_collisions (and in a
-- WARNING) for an operator to resolve, and the migration succeeds.
CREATE TABLE email_collisions (
    folded    text        NOT NULL,
    user_id   bigint      NOT NULL,
    email     text        NOT NULL,
    found_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (folded, user_id)
);

DO $$
DECLARE
    n integer;
BEGIN
    IF current_setting('server_encoding') <> 'UTF8' THEN
        RAISE WARNING 'email folding skipped: server_encoding is %, normalize() needs UTF8', current_setting('server_encoding');
        RETURN;
    END IF;
    INSERT INTO email_collisions (folded, user_id, email)
    SELECT f.folded, f.id, f.email
    FROM (SELECT id, email, lower(normalize(email, NFKC)) AS folded FROM users) f
    WHERE f.folded IN (SELECT lower(normalize(email, NFKC)) FROM users GROUP BY 1 HAVING count(*) > 1);
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        RAISE WARNING '% user rows have emails that collide once folded; they are listed in email_collisions and were left unchanged', n;
    END IF;
    UPDATE users SET email = lower(normalize(email, NFKC))
    WHERE email <> lower(normalize(email, NFKC))
      AND id NOT IN (SELECT user_id FROM email_collisions);
END
$$;
