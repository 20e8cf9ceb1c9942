-- The outbox holds each event's envelope as the exact JSON the relay
-- publishes: text, not jsonb (jsonb parses on insert and re-spaces on
-- read, work the hot path paid twice per event for nothing). The unique
-- constraint on id goes too: ids are fresh UUIDs, and the bus already
-- deduplicates by event id; its index was one more write per event.
ALTER TABLE outbox ALTER COLUMN payload TYPE text USING payload::text;
ALTER TABLE outbox DROP CONSTRAINT outbox_id_key;
