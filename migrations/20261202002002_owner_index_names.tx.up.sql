-- The owner's runbooks name three indexes; the schema had them under other
-- names. Only the names change (no rebuild, no lock beyond the rename).
ALTER INDEX IF EXISTS messages_chat_id_created_at_idx RENAME TO idx_messages_chat_created;
ALTER INDEX IF EXISTS chat_members_pkey RENAME TO idx_chat_members_chat_user;
ALTER INDEX IF EXISTS messages_sender_id_idempotency_key_idx RENAME TO idx_messages_idempotency;
