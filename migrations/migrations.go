package migrations

import (
	"embed"
	"fmt"

	"github.com/uptrace/bun/migrate"
)

// FS holds the SQL files.
//
//go:embed *.sql
var FS embed.FS

// New returns bun migrations discovered from FS. The files are embedded at
// build time, so discovery can only fail on a misnamed file, which the tests
// catch; New panics then.
func New() *migrate.Migrations {
	m := migrate.NewMigrations()
	if err := m.Discover(FS); err != nil {
		panic(fmt.Sprintf("migrations: %v", err))
	}
	return m
}
