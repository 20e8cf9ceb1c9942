ALTER TABLE outbox ADD CONSTRAINT outbox_id_key UNIQUE (id);
ALTER TABLE outbox ALTER COLUMN payload TYPE jsonb USING payload::jsonb;
