CREATE TABLE chats (
    id           bigserial   PRIMARY KEY,
    workspace_id bigint      NOT NULL,
    type         text        NOT NULL,
    name         text        NOT NULL DEFAULT '',
    description  text        NOT NULL DEFAULT '',
    owner_id     bigint,
    -- "<smaller user id>:<larger user id>" for direct chats, NULL otherwise.
    direct_key   text,
    -- The seq of the chat's latest message; bumped in the send transaction.
    last_seq     bigint      NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT chats_type_check CHECK (type IN ('direct', 'group', 'private_channel', 'public_channel')),
    CONSTRAINT chats_direct_key_check CHECK ((type = 'direct') = (direct_key IS NOT NULL)),
    CONSTRAINT chats_last_seq_check CHECK (last_seq >= 0)
);

-- One direct chat per pair of users in a workspace.
CREATE UNIQUE INDEX chats_direct_key_idx ON chats (workspace_id, direct_key)
    WHERE direct_key IS NOT NULL;

CREATE TABLE chat_members (
    chat_id            bigint      NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id            bigint      NOT NULL,
    role               text        NOT NULL DEFAULT 'member',
    joined_at          timestamptz NOT NULL DEFAULT now(),
    last_delivered_seq bigint      NOT NULL DEFAULT 0,
    last_read_seq      bigint      NOT NULL DEFAULT 0,
    -- Keeps the order members were added in, which joined_at alone cannot
    -- when several join at the same instant (a chat's creation).
    join_order         bigint      GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (chat_id, user_id),
    CONSTRAINT chat_members_role_check CHECK (role IN ('owner', 'admin', 'member')),
    CONSTRAINT chat_members_seq_check CHECK (last_delivered_seq >= 0 AND last_read_seq >= 0)
);

-- "My chats"; the primary key covers chat -> users.
CREATE INDEX chat_members_user_id_chat_id_idx ON chat_members (user_id, chat_id);
