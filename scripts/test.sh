#!/usr/bin/env bash
# The whole test suite: installs what is missing, starts a throwaway PostgreSQL on loopback for the
# tests, runs `swift test`, and stops the server again however the tests end.
# Extra arguments go to `swift test` (e.g. scripts/test.sh --filter TradeServiceTests).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
export PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"

pg_bin="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)}"
workdir="$(mktemp -d "${TMPDIR:-/tmp}/stockops-test-XXXXXX")"
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres: "$workdir"

stop_server() {
  as_postgres "$pg_bin/pg_ctl" -D "$workdir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$workdir"
}
trap stop_server EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
as_postgres "$pg_bin/initdb" -D "$workdir/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
as_postgres "$pg_bin/pg_ctl" -D "$workdir/data" -l "$workdir/server.log" -w -t 60 \
  -o "-p $port -k $workdir -c listen_addresses=127.0.0.1 -c max_connections=500 -c fsync=off -c synchronous_commit=off" \
  start >/dev/null
export STOCKOPS_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "test PostgreSQL on 127.0.0.1:$port"

swift build --build-tests
swift test --skip-build "$@"
