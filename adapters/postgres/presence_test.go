package postgres_test

import (
	"testing"

	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/adapters/postgres/pgtest"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

func TestLastSeenRepository(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	porttest.RunLastSeenRepository(t, func(*testing.T) ports.LastSeenRepository { return postgres.NewLastSeenRepository(db) })
}
