package bootstrap

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/adapters/system"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/client/bench"
	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/ports"
)

// benchSeeder is bench --seed-bulk's bench.Seeder: it stores the search
// workload's messages in the spawned server's database with the rows and
// the message.created events a send writes (postgres.BulkSeeder, the
// events built by command.SentEvents, as the send handler builds them).
type benchSeeder struct {
	seeder *postgres.BulkSeeder
	clock  ports.Clock
}

var _ bench.Seeder = (*benchSeeder)(nil)

func newBenchSeeder(db *bun.DB) *benchSeeder {
	return &benchSeeder{seeder: postgres.NewBulkSeeder(db), clock: system.Clock{}}
}

// SeedMessages stores batch in one transaction.
func (s *benchSeeder) SeedMessages(ctx context.Context, batch []bench.SeedMessage) error {
	now := s.clock.Now()
	msgs := make([]*message.Message, len(batch))
	for i, b := range batch {
		m, err := message.New(b.ChatID, b.SenderID, b.Content, b.IdempotencyKey, 0, now)
		if err != nil {
			return fmt.Errorf("seed message %d of the batch: %w", i, err)
		}
		msgs[i] = m
	}
	return s.seeder.Seed(ctx, msgs, func(ws int64) ports.MessageEvents {
		return command.SentEvents(s.clock, ws, nil)
	})
}

// openBenchSeeder connects to the spawned server's database.
func openBenchSeeder(ctx context.Context, dsn string) (*benchSeeder, func(), error) {
	octx, cancel := context.WithTimeout(ctx, dbOpenTimeout)
	defer cancel()
	db, err := postgres.Open(octx, dsn, postgres.WithMaxOpenConns(2))
	if err != nil {
		return nil, nil, fmt.Errorf("seed-bulk: %w", err)
	}
	return newBenchSeeder(db), func() { _ = db.Close() }, nil
}
