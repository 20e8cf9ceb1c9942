CREATE TABLE messages (
    id              bigserial   PRIMARY KEY,
    chat_id         bigint      NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    seq             bigint      NOT NULL,
    sender_id       bigint      NOT NULL,
    content         text        NOT NULL,
    reply_to_id     bigint,
    idempotency_key text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    edited_at       timestamptz,
    deleted_at      timestamptz,
    CONSTRAINT messages_seq_check CHECK (seq > 0),
    -- History pages and catch-up by seq.
    CONSTRAINT messages_chat_id_seq_key UNIQUE (chat_id, seq)
);

-- Time-ordered listing.
CREATE INDEX messages_chat_id_created_at_idx ON messages (chat_id, created_at DESC);

-- Retries with the same key never create a second message.
CREATE UNIQUE INDEX messages_sender_id_idempotency_key_idx ON messages (sender_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- Each forward move of a member's delivered or read pointer, (from_seq, to_seq]
-- at a time: per-message receipt times stay exact while storage grows with
-- moves, not with messages x members.
CREATE TABLE receipt_moves (
    chat_id   bigint      NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id   bigint      NOT NULL,
    kind      text        NOT NULL,
    from_seq  bigint      NOT NULL,
    to_seq    bigint      NOT NULL,
    at        timestamptz NOT NULL,
    CONSTRAINT receipt_moves_kind_check CHECK (kind IN ('delivered', 'read')),
    CONSTRAINT receipt_moves_seq_check CHECK (from_seq >= 0 AND to_seq > from_seq)
);

-- The move of a member that first reached a seq: to_seq >= seq, smallest first.
CREATE INDEX receipt_moves_lookup_idx ON receipt_moves (chat_id, user_id, kind, to_seq);
