package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/ports"
)

// BulkSeeder stores many new messages in one transaction, writing the rows
// a MessageSender writes for them (the messages with gapless per-chat
// seqs, the chats' last_seq, the senders' pointers and their receipt
// moves, and each message's events in the outbox), without the sender's
// per-send checks and answers. It is for the benchmark's bulk seeding
// (bench --seed-bulk): the server's relay publishes the events and its
// search indexer indexes them, as for sends.
type BulkSeeder struct{ db *bun.DB }

// NewBulkSeeder returns a BulkSeeder on db.
func NewBulkSeeder(db *bun.DB) *BulkSeeder {
	mustDB(db, "NewBulkSeeder")
	return &BulkSeeder{db: db}
}

// seedMessages is sendMessages (sender.go) for messages that are all
// stored: no replays, replies or files; each chat's seq advanced once per
// statement. It answers one row per message, in order: new_id NULL means
// the sender is not a member (or the idempotency key is taken), and the
// caller rolls back.
const seedMessages = `
WITH req AS (
	SELECT r.ord, r.chat_id, r.sender_id, r.content, r.idem_key, r.created_at,
		r.mentions::bigint[] AS mentions, r.mentions_all
	FROM unnest(?::int[], ?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::timestamptz[], ?::text[], ?::boolean[])
		AS r(ord, chat_id, sender_id, content, idem_key, created_at, mentions, mentions_all)
), ok AS (
	SELECT r.*, row_number() OVER (PARTITION BY r.chat_id ORDER BY r.ord) AS n,
		ARRAY(SELECT x FROM unnest(r.mentions) WITH ORDINALITY AS t(x, i)
			WHERE EXISTS (SELECT 1 FROM chat_members cm WHERE cm.chat_id = r.chat_id AND cm.user_id = t.x)
			ORDER BY t.i) AS kept_mentions
	FROM req r
	WHERE EXISTS (SELECT 1 FROM chat_members cm WHERE cm.chat_id = r.chat_id AND cm.user_id = r.sender_id)
), counts AS (
	SELECT chat_id, count(*) AS k, max(created_at) AS at FROM ok GROUP BY chat_id
), bump AS (
	UPDATE chats c SET last_seq = c.last_seq + counts.k, updated_at = GREATEST(c.updated_at, counts.at)
	FROM counts WHERE c.id = counts.chat_id
	RETURNING c.id, c.workspace_id, c.last_seq - counts.k AS base
), planned AS (
	SELECT ok.*, bump.base + ok.n AS seq, bump.workspace_id FROM ok JOIN bump ON bump.id = ok.chat_id
), ins AS (
	INSERT INTO messages (chat_id, seq, sender_id, content, idempotency_key, created_at, mentions, mentions_all)
	SELECT chat_id, seq, sender_id, content, NULLIF(idem_key, ''), created_at, kept_mentions, mentions_all
	FROM planned ORDER BY chat_id, seq
	ON CONFLICT (sender_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
	RETURNING id, chat_id, seq, sender_id, created_at
), tops AS (
	SELECT chat_id, sender_id, max(seq) AS top, max(created_at) AS at FROM ins GROUP BY chat_id, sender_id
), old AS (
	SELECT cm.chat_id, cm.user_id, cm.last_delivered_seq AS delivered, cm.last_read_seq AS read, tops.top, tops.at
	FROM chat_members cm JOIN tops ON cm.chat_id = tops.chat_id AND cm.user_id = tops.sender_id
	FOR UPDATE OF cm
), pointers AS (
	UPDATE chat_members m
	SET last_delivered_seq = GREATEST(old.delivered, old.top), last_read_seq = GREATEST(old.read, old.top)
	FROM old WHERE m.chat_id = old.chat_id AND m.user_id = old.user_id
), moves AS (
	INSERT INTO receipt_moves (chat_id, user_id, kind, from_seq, to_seq, at)
	SELECT chat_id, user_id, 'delivered', delivered, top, at FROM old WHERE delivered < top
	UNION ALL
	SELECT chat_id, user_id, 'read', read, top, at FROM old WHERE read < top
)
SELECT r.ord, ins.id AS new_id, ins.seq AS new_seq, pl.workspace_id, pl.kept_mentions
FROM req r
LEFT JOIN planned pl ON pl.ord = r.ord
LEFT JOIN ins ON ins.chat_id = pl.chat_id AND ins.seq = pl.seq
ORDER BY r.ord`

type seedVerdict struct {
	Ord          int
	NewID        *int64
	NewSeq       *int64
	WorkspaceID  *int64
	KeptMentions []int64 `bun:"kept_mentions,array"`
}

// Seed stores msgs (new messages built by message.New, without replies or
// files) in one transaction: each is assigned its id and seq, and
// events(workspace) builds its events, as a send's events do
// (command.SentEvents), for the outbox. If a sender is not a member of
// the chat, or an idempotency key is taken, nothing is stored.
func (s *BulkSeeder) Seed(ctx context.Context, msgs []*message.Message, events func(workspaceID int64) ports.MessageEvents) error {
	n := len(msgs)
	if n == 0 {
		return nil
	}
	ords := make([]int, n)
	chats := make([]int64, n)
	senders := make([]int64, n)
	contents := make([]string, n)
	keys := make([]string, n)
	ats := make([]time.Time, n)
	mentions := make([]string, n)
	mentionsAll := make([]bool, n)
	for i, m := range msgs {
		if m.ReplyToID() != 0 || len(m.AttachmentIDs()) > 0 || m.ID() != 0 {
			return fmt.Errorf("postgres: seed: message %d of the batch is a reply, carries files or is stored already", i)
		}
		if err := storable(m); err != nil {
			return err
		}
		ords[i], chats[i], senders[i], contents[i] = i, m.ChatID(), m.SenderID(), m.Content()
		keys[i], ats[i] = m.IdempotencyKey(), m.CreatedAt().UTC()
		mentions[i], mentionsAll[i] = int64Array(m.Mentions().UserIDs), m.Mentions().All
	}
	build := map[int64]ports.MessageEvents{}
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var verdicts []seedVerdict
		err := tx.NewRaw(seedMessages, pgdialect.Array(ords), pgdialect.Array(chats), pgdialect.Array(senders),
			pgdialect.Array(contents), pgdialect.Array(keys), pgdialect.Array(ats),
			pgdialect.Array(mentions), pgdialect.Array(mentionsAll)).Scan(ctx, &verdicts)
		if err != nil {
			return err
		}
		if len(verdicts) != n {
			return fmt.Errorf("postgres: seed batch of %d answered %d rows", n, len(verdicts))
		}
		ids := make([]string, 0, n)
		types := make([]string, 0, n)
		payloads := make([]string, 0, n)
		for _, v := range verdicts {
			m := msgs[v.Ord]
			if v.NewID == nil || v.NewSeq == nil || v.WorkspaceID == nil {
				return fmt.Errorf("postgres: seed: user %d is not a member of chat %d, or idempotency key %q is taken",
					m.SenderID(), m.ChatID(), m.IdempotencyKey())
			}
			m.Assign(*v.NewID, *v.NewSeq)
			m.SetMentions(message.Mentions{UserIDs: v.KeptMentions, All: m.Mentions().All})
			ev, ok := build[*v.WorkspaceID]
			if !ok {
				ev = events(*v.WorkspaceID)
				build[*v.WorkspaceID] = ev
			}
			for _, e := range ev(m) {
				payload, err := json.Marshal(e)
				if err != nil {
					return fmt.Errorf("postgres: outbox: encode event %s: %w", e.ID, err)
				}
				ids, types, payloads = append(ids, e.ID), append(types, e.Type), append(payloads, string(payload))
			}
		}
		_, err = tx.NewRaw(insertOutbox, pgdialect.Array(ids), pgdialect.Array(types), pgdialect.Array(payloads)).Exec(ctx)
		return err
	})
	if err != nil {
		for _, m := range msgs {
			m.Assign(0, 0)
		}
		return dbError(err, "seed messages")
	}
	return nil
}
