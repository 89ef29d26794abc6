#!/usr/bin/env bash
# Ledger benchmark: pgbench's raw double-entry limit on this PostgreSQL, then a real hub
# process driven over HTTP. Starts the private services like scripts/test.sh when no
# DATABASE_URL / REDIS_URL is given. Arguments go to the load generator, e.g.
#   scripts/bench.sh --clients 32 --seconds 20 --members 20000 --rounds 2
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -z "${DATABASE_URL:-}" ] || [ -z "${REDIS_URL:-}" ]; then
  eval "$(scripts/services.sh up)"
fi
export DATABASE_URL REDIS_URL HUB_PG_BIN="${HUB_PG_BIN:-/usr/lib/postgresql/15/bin}"
exec cargo bench --bench ledger -- "$@"
