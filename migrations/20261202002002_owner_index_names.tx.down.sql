ALTER INDEX IF EXISTS idx_messages_chat_created RENAME TO messages_chat_id_created_at_idx;
ALTER INDEX IF EXISTS idx_chat_members_chat_user RENAME TO chat_members_pkey;
ALTER INDEX IF EXISTS idx_messages_idempotency RENAME TO messages_sender_id_idempotency_key_idx;
