#!/usr/bin/env bash
# Member app home screen benchmark: `me` with balance, expiring points, tier and 20
# transactions with their partners' names, as many members at once, over HTTP against a
# real hub. Starts the private services like scripts/test.sh when no DATABASE_URL /
# REDIS_URL is given. HUB_BIN=path runs another build of the hub under the same load.
#   scripts/bench-home.sh --members 2000 --earns 30 --clients 32 --seconds 20
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -z "${DATABASE_URL:-}" ] || [ -z "${REDIS_URL:-}" ]; then
  eval "$(scripts/services.sh up)"
fi
export DATABASE_URL REDIS_URL
exec cargo bench --bench home -- "$@"
