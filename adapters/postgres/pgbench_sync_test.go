package postgres

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The pgbench scripts (pgbench/send1.sql, send10.sql) run the statements
// the sender runs: regenerate them with pgbench/gen.py when these change.
func TestPgbenchScriptsRunTheSendersStatements(t *testing.T) {
	placeholder := regexp.MustCompile(`\?::\w+\[\]`)
	literal := regexp.MustCompile(`ARRAY\[[^\]]*\]::\w+\[\]`)
	comment := regexp.MustCompile(`--[^\n]*`)
	flat := func(s string) string { return strings.Join(strings.Fields(comment.ReplaceAllString(s, "")), " ") }
	for _, name := range []string{"pgbench/send1.sql", "pgbench/send10.sql"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		script := literal.ReplaceAllString(flat(string(b)), "$$")
		for what, stmt := range map[string]string{"sendMessages": sendMessages, "insertOutbox": insertOutbox} {
			if want := placeholder.ReplaceAllString(flat(stmt), "$$"); !strings.Contains(script, want) {
				t.Errorf("%s does not run the sender's %s: run adapters/postgres/pgbench/gen.py", name, what)
			}
		}
	}
}
