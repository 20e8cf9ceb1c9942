ALTER TABLE users DROP COLUMN IF EXISTS avatar_file_id;
DROP INDEX IF EXISTS messages_thread_idx;
DROP INDEX IF EXISTS messages_mentions_all_idx;
DROP INDEX IF EXISTS messages_mentions_idx;
ALTER TABLE messages
    DROP COLUMN IF EXISTS last_reply_at,
    DROP COLUMN IF EXISTS reply_count,
    DROP COLUMN IF EXISTS thread_root_id,
    DROP COLUMN IF EXISTS mentions_all,
    DROP COLUMN IF EXISTS mentions;
DROP TABLE IF EXISTS message_reactions;
DROP TABLE IF EXISTS workspace_storage;
DROP TABLE IF EXISTS files;
