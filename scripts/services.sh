#!/usr/bin/env bash
# Private PostgreSQL and Redis for development and tests.
#
#   scripts/services.sh up      install what is missing, start both, print `export` lines
#   scripts/services.sh down    stop both (data is kept under .local/)
#   scripts/services.sh status
#
# Both listen on loopback only, on their own ports, with their data under .local/
# (ignored by git), so they never touch a system-wide PostgreSQL or Redis.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${HUB_LOCAL_DIR:-$ROOT/.local}"
PG_PORT="${HUB_PG_PORT:-54329}"
REDIS_PORT="${HUB_REDIS_PORT:-63799}"
PG_DATA="$STATE/postgres"
REDIS_DIR="$STATE/redis"
PG_USER=hub

log() { echo "services: $*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

pg_bin() {
  local v
  for v in 17 16 15; do
    if [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then
      echo "/usr/lib/postgresql/$v/bin"
      return 0
    fi
  done
  return 1
}

install_missing() {
  local pkgs=()
  pg_bin >/dev/null || pkgs+=(postgresql)
  command -v redis-server >/dev/null || pkgs+=(redis-server)
  [ "${#pkgs[@]}" -eq 0 ] && return 0
  log "installing ${pkgs[*]} from Debian packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
}

# PostgreSQL refuses to run as root: as root, run it as the `postgres` system user
# that the Debian package creates.
pg_run() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_ready() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }
redis_ready() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

start_postgres() {
  local bin
  bin="$(pg_bin)"
  if pg_ready; then
    return 0
  fi
  if [ ! -s "$PG_DATA/PG_VERSION" ]; then
    log "initialising PostgreSQL in $PG_DATA"
    mkdir -p "$PG_DATA"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DATA"
    chmod 700 "$PG_DATA"
    pg_run "$bin/initdb" -D "$PG_DATA" -U "$PG_USER" --auth=trust --encoding=UTF8 --no-locale >/dev/null
    pg_run tee -a "$PG_DATA/postgresql.conf" >/dev/null <<CONF
# private development/test instance (scripts/services.sh)
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''
max_connections = 400
shared_buffers = 512MB
synchronous_commit = on
CONF
  fi
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  pg_run "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t 60 start >/dev/null
  if ! "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'hub'" | grep -q 1; then
    "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" hub
  fi
  STARTED=1
}

start_redis() {
  if redis_ready; then
    return 0
  fi
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  mkdir -p "$REDIS_DIR"
  # Redis holds derived views only (rebuildable from PostgreSQL): no persistence.
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" \
    --daemonize yes --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" \
    --save "" --appendonly no >/dev/null
  for _ in $(seq 1 100); do
    redis_ready && break
    sleep 0.1
  done
  redis_ready || { log "Redis did not start; see $REDIS_DIR/redis.log"; exit 1; }
  STARTED=1
}

stop_all() {
  if [ -s "$PG_DATA/postmaster.pid" ]; then
    log "stopping PostgreSQL"
    pg_run "$(pg_bin)/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null || true
  fi
  if redis_ready; then
    log "stopping Redis"
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  fi
}

print_env() {
  echo "export DATABASE_URL=postgres://$PG_USER@127.0.0.1:$PG_PORT/hub"
  echo "export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/"
  echo "export HUB_PG_BIN=$(pg_bin)"
  echo "export HUB_SERVICES_STARTED=${STARTED:-0}"
}

STARTED=0
case "${1:-}" in
  up)
    install_missing
    start_postgres
    start_redis
    print_env
    ;;
  down)
    stop_all
    ;;
  status)
    pg_ready && echo "postgres: up on 127.0.0.1:$PG_PORT" || echo "postgres: down"
    redis_ready && echo "redis: up on 127.0.0.1:$REDIS_PORT" || echo "redis: down"
    ;;
  env)
    print_env
    ;;
  *)
    echo "usage: $0 up|down|status|env" >&2
    exit 2
    ;;
esac
