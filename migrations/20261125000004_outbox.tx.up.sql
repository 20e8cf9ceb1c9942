-- Events recorded in the transaction of the change they describe; the relay
-- publishes them in position order and deletes them after the publish ack.
CREATE TABLE outbox (
    position   bigserial   PRIMARY KEY,
    id         uuid        NOT NULL,
    type       text        NOT NULL,
    payload    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT outbox_id_key UNIQUE (id)
);
