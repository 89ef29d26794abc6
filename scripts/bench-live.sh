#!/usr/bin/env bash
# Live balance benchmark: S balanceChanged subscriptions on one hub process while R entries
# a second are committed; delivery, latency and hub memory. Starts the private services
# like scripts/test.sh when no DATABASE_URL / REDIS_URL is given.
#   scripts/bench-live.sh --subscriptions 10000 --rate 1000 --seconds 20
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -z "${DATABASE_URL:-}" ] || [ -z "${REDIS_URL:-}" ]; then
  eval "$(scripts/services.sh up)"
fi
export DATABASE_URL REDIS_URL
# one socket per subscription, in the load generator and in the hub
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec cargo bench --bench live -- "$@"
