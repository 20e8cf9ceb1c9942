package migrations_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/fechatter/fechatter/migrations"
)

func TestEveryMigrationHasUpAndDown(t *testing.T) {
	ms := migrations.New().Sorted()
	if len(ms) == 0 {
		t.Fatalf("no migrations discovered")
	}
	for _, m := range ms {
		if m.Up == nil || m.Down == nil {
			t.Errorf("migration %s lacks an up or a down file", m)
		}
	}
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !strings.HasSuffix(f, ".tx.up.sql") && !strings.HasSuffix(f, ".tx.down.sql") {
			t.Errorf("%s: name it <id>_<name>.tx.up.sql or .tx.down.sql so it runs in a transaction", f)
		}
	}
	if len(files) != 2*len(ms) {
		t.Errorf("%d files for %d migrations", len(files), len(ms))
	}
}
