// Package migrations embeds the SQL migrations of the Postgres schema. Files
// are named the way bun's migrator expects: <14-digit id>_<name>.tx.up.sql and
// .tx.down.sql; ".tx" makes bun run each file in its own transaction, so a
// migration that fails leaves no half-built schema behind.
package migrations
