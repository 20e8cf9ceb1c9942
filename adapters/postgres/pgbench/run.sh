#!/usr/bin/env bash
# The raw limit of the send's writes on this machine's Postgres: pgbench runs
# the statements of one send per transaction, then ten per transaction
# (send1.sql, send10.sql, generated from adapters/postgres/sender.go by
# gen.py), against a fresh, migrated database with 200 chats of 10, durable
# commits. It prints transactions and messages per second, latency, and the
# CPU the Postgres processes used per message. Usage (from the repo root):
#   adapters/postgres/pgbench/run.sh [clients=32] [seconds=20]
set -euo pipefail
cd "$(dirname "$0")/../../.."
clients=${1:-32}
secs=${2:-20}
host=${PGHOST:-127.0.0.1}
db=fechatter_pgbench
dsn="postgres://postgres@${host}:5432/${db}?sslmode=disable"
psql -q -h "$host" -U postgres -d postgres -c "DROP DATABASE IF EXISTS ${db} WITH (FORCE)" -c "CREATE DATABASE ${db}"
DATABASE_URL="$dsn" go run . migrate up >/dev/null
psql -q -h "$host" -U postgres -d "$db" -f adapters/postgres/pgbench/setup.sql >/dev/null
echo "postgres: $(psql -tA -h "$host" -U postgres -d "$db" -c "SELECT 'autovacuum ' || current_setting('autovacuum') || ', synchronous_commit ' || current_setting('synchronous_commit')")"

pgcpu() { # CPU seconds (utime+stime) of every postgres process
	local total=0
	for f in /proc/[0-9]*/stat; do
		{ read -r line <"$f"; } 2>/dev/null || continue
		[[ $line == *"(postgres)"* ]] || continue
		local rest=${line##*) }
		set -- $rest
		total=$((total + ${12} + ${13}))
	done
	echo "$total"
}

for per in 1 10; do
	before=$(pgcpu)
	out=$(pgbench -n -h "$host" -U postgres -c "$clients" -j 2 -T "$secs" --max-tries=20 -D clients="$clients" \
		-f "adapters/postgres/pgbench/send${per}.sql" "$db" 2>&1)
	after=$(pgcpu)
	tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")
	lat=$(sed -n 's/^latency average = \(.*\)$/\1/p' <<<"$out")
	failed=$(sed -n 's/^number of failed transactions: \(.*\)$/\1/p' <<<"$out")
	msgs=$(awk -v t="$tps" -v p="$per" 'BEGIN { printf "%.0f", t * p }')
	cpu=$(awk -v b="$before" -v a="$after" -v t="$tps" -v p="$per" -v s="$secs" \
		'BEGIN { printf "%.3f", (a - b) / 100 * 1000 / (t * p * s) }')
	echo "${per} send(s) per transaction, ${clients} clients, ${secs}s: ${tps} tps = ${msgs} messages/s, latency ${lat}, failed ${failed:-0}, Postgres CPU ${cpu} ms per message"
done
