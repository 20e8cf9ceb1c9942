package postgres

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/fechatter/fechatter/application/query"
)

// messageExtras are the issue-14 columns of a message row.
type messageExtras struct {
	ID           int64      `bun:"id"`
	Mentions     []int64    `bun:"mentions,array"`
	MentionsAll  bool       `bun:"mentions_all"`
	ThreadRootID *int64     `bun:"thread_root_id"`
	ReplyCount   int        `bun:"reply_count"`
	LastReplyAt  *time.Time `bun:"last_reply_at"`
}

// enrichMessages fills what messages carry beyond their row's original
// columns: mentions, thread fields, reactions and attachments (links left
// to sign), in three queries for the whole page.
func enrichMessages(ctx context.Context, db bun.IDB, msgs []query.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	ids := make([]int64, len(msgs))
	for i := range msgs {
		ids[i] = msgs[i].ID
	}
	var extras []messageExtras
	err := db.NewRaw(`SELECT id, mentions, mentions_all, thread_root_id, reply_count, last_reply_at
FROM messages WHERE id IN (?)`, bun.List(ids)).Scan(ctx, &extras)
	if err != nil {
		return dbError(err, "load message extras")
	}
	byID := make(map[int64]messageExtras, len(extras))
	for _, x := range extras {
		byID[x.ID] = x
	}
	reactions, err := reactionsFor(ctx, db, ids)
	if err != nil {
		return err
	}
	files, err := attachmentsFor(ctx, db, ids)
	if err != nil {
		return err
	}
	for i := range msgs {
		m := &msgs[i]
		x := byID[m.ID]
		m.Mentions, m.MentionsAll, m.ThreadRootID, m.ReplyCount = x.Mentions, x.MentionsAll, x.ThreadRootID, x.ReplyCount
		m.LastReplyAt = utcPtr(x.LastReplyAt)
		if m.DeletedAt == nil {
			m.Reactions, m.Attachments = reactions[m.ID], files[m.ID]
		} else {
			m.Mentions, m.MentionsAll = nil, false
		}
		*m = m.WithEmptyLists()
	}
	return nil
}
