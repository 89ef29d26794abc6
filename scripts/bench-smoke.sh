#!/usr/bin/env bash
# Every benchmark at a tiny size (seconds each), built like the tests (not in release), so
# that a benchmark broken by a change fails the test command. Each run must answer every
# request: its CSV must show operations and no errors. Needs DATABASE_URL and REDIS_URL
# (scripts/test.sh runs it after the tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${DATABASE_URL:?}" "${REDIS_URL:?}"
export HUB_PG_BIN="${HUB_PG_BIN:-/usr/lib/postgresql/15/bin}"
out=target/bench-smoke
mkdir -p "$out"

run() {
  local bench=$1
  shift
  echo "bench-smoke: $bench $*" >&2
  cargo test --locked --quiet --bench "$bench" -- "$@" --csv "$out/$bench.csv" >"$out/$bench.log" 2>&1 || {
    tail -40 "$out/$bench.log" >&2
    echo "bench-smoke: $bench failed (log: $out/$bench.log)" >&2
    exit 1
  }
  # Load generators write operation,clients,seconds,ops,errors,...: every row did some work
  # and had no error. (The settlement bench checks its close itself.)
  head -1 "$out/$bench.csv" | grep -q '^operation,clients,seconds,ops,errors,' || return 0
  awk -F, -v bench="$bench" 'NR > 1 { rows++; if ($4 + 0 <= 0 || $5 + 0 != 0) bad = bad " " $1 }
       END { if (rows == 0 || bad != "") { print "bench-smoke: " bench ": no rows or failed rows:" bad; exit 1 } }' \
    "$out/$bench.csv" >&2
}

run ledger --clients 4 --seconds 2 --slices 1 --warmup 1 --members 200 --partners 20 --rounds 1
run settlement --slices 2000 --partners 5
run leaderboard --ambassadors 200 --activities 2000 --clients 4 --seconds 1 --warmup 1 --tokens 100
run live --subscriptions 50 --rate 50 --seconds 2
run home --members 50 --earns 5 --partners 3 --clients 4 --seconds 1 --warmup 1
echo "bench-smoke: every benchmark ran" >&2
