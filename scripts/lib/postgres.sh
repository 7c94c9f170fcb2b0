# shellcheck shell=bash
# Sourced by the scripts: a throwaway PostgreSQL server on loopback.
#   postgres_start DIR [extra server options…]   sets PG_PORT and PG_ADMIN_URL; the server runs as
#                                                 the postgres account when we are root
#   postgres_stop DIR                             stops it (immediate) and deletes DIR
pg_bin="${PG_BIN:-$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)}"

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# shellcheck source=scripts/lib/ports.sh
source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

postgres_start() {
  local dir="$1"; shift
  if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
    echo "no PostgreSQL server binaries under /usr/lib/postgresql: apt-get install postgresql (or set PG_BIN)" >&2
    return 3
  fi
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  PG_PORT="$(free_port)"
  as_postgres "$pg_bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
  as_postgres "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $PG_PORT -k $dir -c listen_addresses=127.0.0.1 $*" start >/dev/null
  # shellcheck disable=SC2034 # read by the scripts that source this file
  PG_ADMIN_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
}

postgres_stop() {
  local dir="$1"
  [ -d "$dir/data" ] && as_postgres "$pg_bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1
  rm -rf "$dir"
}
