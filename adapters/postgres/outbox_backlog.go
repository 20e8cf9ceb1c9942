package postgres

import "context"

// Backlog counts the events waiting in the outbox: committed, not yet
// published. The relay keeps the table short, so counting it is cheap.
func (o *Outbox) Backlog(ctx context.Context) (int, error) {
	n, err := conn(ctx, o.db).NewSelect().Model((*outboxRow)(nil)).Count(ctx)
	if err != nil {
		return 0, dbError(err, "count the outbox")
	}
	return int(n), nil
}
