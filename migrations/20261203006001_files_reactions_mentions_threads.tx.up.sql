-- Issue 14: files, reactions, mentions, threads and avatars. Storage grows
-- with files, reactions and replies, never with members: <!all> is a flag,
-- not one row per member.

-- Uploaded files. message_id/chat_id are set when the file is attached
-- (to one message only); deleted_at when its bytes are removed (message
-- deleted, orphan clean-up).
CREATE TABLE files (
    id           bigserial   PRIMARY KEY,
    workspace_id bigint      NOT NULL,
    uploader_id  bigint      NOT NULL,
    name         text        NOT NULL,
    content_type text        NOT NULL,
    size         bigint      NOT NULL,
    sha256       text        NOT NULL,
    width        integer,
    height       integer,
    storage_key  text        NOT NULL,
    thumb_key    text,
    thumb_type   text,
    thumb_size   bigint      NOT NULL DEFAULT 0,
    message_id   bigint,
    chat_id      bigint,
    created_at   timestamptz NOT NULL DEFAULT now(),
    deleted_at   timestamptz,
    CONSTRAINT files_size_check CHECK (size >= 0 AND thumb_size >= 0)
);

-- A message's attachments.
CREATE INDEX files_message_id_idx ON files (message_id) WHERE message_id IS NOT NULL;
-- Orphan clean-up: live files never attached, oldest first.
CREATE INDEX files_orphans_idx ON files (created_at) WHERE message_id IS NULL AND deleted_at IS NULL;

-- Bytes each workspace's live files (and thumbnails) take: one row per
-- workspace, updated with a conditional UPDATE so concurrent uploads can
-- never exceed the quota together.
CREATE TABLE workspace_storage (
    workspace_id bigint PRIMARY KEY,
    used_bytes   bigint NOT NULL DEFAULT 0,
    CONSTRAINT workspace_storage_used_check CHECK (used_bytes >= 0)
);

-- One row per (message, emoji, user); id orders emoji by first use.
CREATE TABLE message_reactions (
    message_id bigint      NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    emoji      text        NOT NULL,
    user_id    bigint      NOT NULL,
    id         bigint      GENERATED ALWAYS AS IDENTITY,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, emoji, user_id)
);

-- Mentions and threads live on the message row itself.
ALTER TABLE messages
    ADD COLUMN mentions       bigint[]    NOT NULL DEFAULT '{}',
    ADD COLUMN mentions_all   boolean     NOT NULL DEFAULT false,
    ADD COLUMN thread_root_id bigint,
    ADD COLUMN reply_count    integer     NOT NULL DEFAULT 0,
    ADD COLUMN last_reply_at  timestamptz;

-- The mentions feed: a user's mentions across chats, newest first.
CREATE INDEX messages_mentions_idx ON messages USING gin (mentions) WHERE deleted_at IS NULL;
CREATE INDEX messages_mentions_all_idx ON messages (chat_id, id) WHERE mentions_all AND deleted_at IS NULL;
-- A thread's replies in seq order.
CREATE INDEX messages_thread_idx ON messages (thread_root_id, seq) WHERE thread_root_id IS NOT NULL;

-- Avatars: a file of the user's; kept while it is someone's avatar.
ALTER TABLE users ADD COLUMN avatar_file_id bigint;
