#!/usr/bin/env bash
# The whole test suite against a real PostgreSQL and a real Redis.
#
# Without DATABASE_URL / REDIS_URL it installs what is missing and starts private
# instances (scripts/services.sh); it also installs the diesel CLI, which the schema drift
# test runs, and Chromium, in which the page tests run. Extra arguments go to `cargo test` (for example a test name filter).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

started=0
if [ -z "${DATABASE_URL:-}" ] || [ -z "${REDIS_URL:-}" ]; then
  eval "$(scripts/services.sh up)"
  started="${HUB_SERVICES_STARTED:-0}"
fi
if [ "$started" = 1 ] && [ -z "${HUB_KEEP_SERVICES:-}" ]; then
  trap 'scripts/services.sh down' EXIT
fi

DIESEL_VERSION=2.3.7
if ! command -v diesel >/dev/null || ! diesel --version | grep -q "$DIESEL_VERSION"; then
  echo "test: installing diesel_cli $DIESEL_VERSION (once per machine)" >&2
  cargo install diesel_cli --version "$DIESEL_VERSION" --no-default-features --features postgres --locked
fi

# Pages are tested in a real browser: Debian's Chromium and its WebDriver.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "test: installing chromium and chromium-driver from Debian packages (once per machine)" >&2
  sudo_if() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  sudo_if env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  sudo_if env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium chromium-driver >&2
fi

# Databases of earlier runs (each test clones its own from a template), and templates of
# older migrations (the newest is kept: it is most likely this run's).
psql_cmd() { "${HUB_PG_BIN:-/usr/lib/postgresql/15/bin}/psql" "$DATABASE_URL" -qtAX "$@"; }
if command -v "${HUB_PG_BIN:-/usr/lib/postgresql/15/bin}/psql" >/dev/null; then
  for db in $(psql_cmd -c "SELECT datname FROM pg_database WHERE datname LIKE 'hub_test_%'"); do
    psql_cmd -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" || true
  done
  for db in $(psql_cmd -c "SELECT datname FROM pg_database WHERE datname LIKE 'hub_tpl_%'
                            AND oid <> (SELECT max(oid) FROM pg_database WHERE datname LIKE 'hub_tpl_%')"); do
    psql_cmd -c "ALTER DATABASE \"$db\" IS_TEMPLATE false" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" || true
  done
fi

export DATABASE_URL REDIS_URL
cargo test --locked --lib --bins --tests "$@"
# The benchmarks are runs, not tests: each runs once at a tiny size so that a broken one
# fails here (skipped when a test filter is given).
if [ "$#" -eq 0 ]; then
  scripts/bench-smoke.sh
fi
