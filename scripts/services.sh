#!/usr/bin/env bash
# Make the real services the tests use available on this machine: PostgreSQL (role and
# database `shouhou`/`shouhou_test`) and Redis on 6379. Installs the Debian packages when
# they are missing, starts what is not running, and prints the URLs on stdout. Safe to run
# again and again: every step first checks whether it is already done.
set -euo pipefail

PG_ROLE=shouhou
PG_PASSWORD=shouhou
PG_DB=shouhou_test
REDIS_PORT=6379

log() { echo "services: $*" >&2; }
die() { echo "services: ERROR: $*" >&2; exit 1; }

# Everything here needs root (apt, starting clusters as postgres); outside CI a developer
# may run it as themselves, so fall back to sudo rather than failing half-way.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root for: $*"
  fi
}
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"
  else sudo -u postgres "$@"
  fi
}

pg_installed() {
  command -v pg_ctlcluster >/dev/null && compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null
}
redis_installed() { command -v redis-server >/dev/null && command -v redis-cli >/dev/null; }

# --- install what is missing, with a single apt-get update -------------------------------
missing=()
pg_installed || missing+=(postgresql)
redis_installed || missing+=(redis-server)
# The browser tests drive Debian's Chromium through Playwright.
[ -x /usr/bin/chromium ] || missing+=(chromium)
# Chinese glyphs for its pages and screenshots.
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || missing+=(fonts-wqy-zenhei)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # apt and dpkg are chatty; keep their output for when something goes wrong.
  apt_log=$(mktemp)
  if ! { as_root apt-get update -qq && \
         as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
    cat "$apt_log" >&2
    die "apt-get install ${missing[*]} failed (output above)"
  fi
  rm -f "$apt_log"
fi
pg_installed || die "PostgreSQL binaries still missing after apt-get install postgresql"
redis_installed || die "redis-server still missing after apt-get install redis-server"
[ -x /usr/bin/chromium ] || die "chromium still missing after apt-get install chromium"

# --- PostgreSQL ---------------------------------------------------------------------------
# The newest installed major version; Debian 12 ships 15.
PG_VERSION=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
PG_CLUSTER=${SHOUHOU_PG_CLUSTER:-main}  # another name only to try the script out

if ! pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c {found=1} END {exit !found}'; then
  log "creating cluster $PG_VERSION/$PG_CLUSTER"
  as_root pg_createcluster "$PG_VERSION" "$PG_CLUSTER" >&2
fi

cluster_field() {  # column N of this cluster's pg_lsclusters row
  pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" -v n="$1" '$1==v && $2==c {print $n}'
}
PG_PORT=$(cluster_field 3)
# "online,recovery" is running too: starting it again would fail.
if [[ "$(cluster_field 4)" != online* ]]; then
  log "starting cluster $PG_VERSION/$PG_CLUSTER on port $PG_PORT"
  as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start >&2
fi

for _ in $(seq 1 60); do
  as_postgres pg_isready -q -p "$PG_PORT" && break
  sleep 0.5
done
as_postgres pg_isready -q -p "$PG_PORT" || die "PostgreSQL did not accept connections on port $PG_PORT; see /var/log/postgresql/postgresql-$PG_VERSION-$PG_CLUSTER.log"

psql_admin() { as_postgres psql -p "$PG_PORT" -X -q -v ON_ERROR_STOP=1 -tA "$@"; }

if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$PG_ROLE'")" != "1" ]; then
  log "creating role $PG_ROLE"
  psql_admin -c "CREATE ROLE $PG_ROLE LOGIN PASSWORD '$PG_PASSWORD'"
else
  # Re-assert the password so a role created by hand with another one still works.
  psql_admin -c "ALTER ROLE $PG_ROLE LOGIN PASSWORD '$PG_PASSWORD'"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != "1" ]; then
  log "creating database $PG_DB"
  psql_admin -c "CREATE DATABASE $PG_DB OWNER $PG_ROLE"
fi

# The tests log in over TCP with a password, not as postgres over the socket: prove that
# exact path works before saying the database is ready.
for _ in $(seq 1 20); do
  PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=2 psql -X -q -h localhost -p "$PG_PORT" \
    -U "$PG_ROLE" -d "$PG_DB" -tAc "SELECT 1" >/dev/null 2>&1 && break
  sleep 0.5
done
PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=2 psql -X -q -h localhost -p "$PG_PORT" \
  -U "$PG_ROLE" -d "$PG_DB" -tAc "SELECT 1" >/dev/null \
  || die "cannot log in as $PG_ROLE to $PG_DB on localhost:$PG_PORT (check pg_hba.conf)"

# --- Redis --------------------------------------------------------------------------------
redis_up() { [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; }
if ! redis_up; then
  log "starting redis-server on port $REDIS_PORT"
  # Without systemd the package's own service is not running. Run it as the redis user with
  # its own directory so no dump.rdb lands in the working tree.
  as_root install -d -o redis -g redis /var/lib/redis /var/log/redis
  as_root runuser -u redis -- redis-server --daemonize yes --port "$REDIS_PORT" \
    --bind 127.0.0.1 --dir /var/lib/redis --logfile /var/log/redis/redis-server.log >&2
  for _ in $(seq 1 40); do redis_up && break; sleep 0.25; done
  redis_up || die "redis-server did not answer PING on port $REDIS_PORT; see /var/log/redis/redis-server.log"
fi

echo "TEST_DATABASE_URL=postgresql://$PG_ROLE:$PG_PASSWORD@localhost:$PG_PORT/$PG_DB"
echo "TEST_REDIS_URL=redis://localhost:$REDIS_PORT/0"
