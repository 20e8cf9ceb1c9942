-- pgbench set-up: one workspace, 2,000 users, 200 groups of 10 (chat c has
-- users (c-1)*10+1 .. c*10), on a freshly migrated database.
INSERT INTO workspaces (id, name) VALUES (1, 'pgbench');
INSERT INTO users (id, workspace_id, email, fullname, password_hash)
SELECT u, 1, 'u' || u || '@pgbench.test', 'User ' || u, 'x' FROM generate_series(1, 2000) u;
INSERT INTO chats (id, workspace_id, type, name, owner_id)
SELECT c, 1, 'group', 'chat ' || c, (c - 1) * 10 + 1 FROM generate_series(1, 200) c;
INSERT INTO chat_members (chat_id, user_id, role)
SELECT c, (c - 1) * 10 + k, CASE WHEN k = 1 THEN 'owner' ELSE 'member' END
FROM generate_series(1, 200) c, generate_series(1, 10) k;
SELECT setval('users_id_seq', 2000), setval('chats_id_seq', 200), setval('workspaces_id_seq', 1);
VACUUM ANALYZE;
