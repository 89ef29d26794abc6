#!/usr/bin/env bash
# Leaderboard benchmark: seeds ambassadors and activity, times a full rebuild into Redis,
# then drives a real hub over HTTP with leaderboard and ambassadorStanding reads. Starts the
# private services like scripts/test.sh when no DATABASE_URL / REDIS_URL is given.
#   scripts/bench-leaderboard.sh --ambassadors 1000000 --activities 10000000 --clients 32
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -z "${DATABASE_URL:-}" ] || [ -z "${REDIS_URL:-}" ]; then
  eval "$(scripts/services.sh up)"
fi
export DATABASE_URL REDIS_URL
exec cargo bench --bench leaderboard -- "$@"
