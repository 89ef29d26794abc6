#!/usr/bin/env bash
# Settlement close benchmark: seeds --slices redemption slices across --partners partners and
# closes the period, reporting time and memory (CSV in target/bench/settlement.csv).
# Starts the private services like scripts/test.sh when no DATABASE_URL / REDIS_URL is given.
#   scripts/bench-settlement.sh --slices 1000000 --partners 50
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -z "${DATABASE_URL:-}" ] || [ -z "${REDIS_URL:-}" ]; then
  eval "$(scripts/services.sh up)"
fi
export DATABASE_URL REDIS_URL
exec cargo bench --bench settlement -- "$@"
