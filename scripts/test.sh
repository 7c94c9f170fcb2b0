#!/usr/bin/env bash
# The whole test suite: installs what is missing, starts a throwaway PostgreSQL on loopback and a Docker
# engine (scripts/lib/docker.sh) for the tests, builds the services' binaries for their images
# (scripts/build-service-binaries.sh), runs `swift test`, and stops the server again however the tests end.
# Extra arguments go to `swift test` (e.g. scripts/test.sh --filter TradeServiceTests).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh
source scripts/lib/docker.sh

scripts/install-deps.sh
pip_scripts="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
export PATH="$pip_scripts:$PATH"

workdir="$(mktemp -d "${TMPDIR:-/tmp}/stockops-test-XXXXXX")"
trap 'postgres_stop "$workdir"; docker_engine_stop' EXIT
postgres_start "$workdir" -c max_connections=500 -c fsync=off -c synchronous_commit=off
export STOCKOPS_TEST_DATABASE_URL="$PG_ADMIN_URL"
# Whatever the tests put in temporary directories goes when the run ends.
mkdir -p "$workdir/tmp" && chmod 755 "$workdir/tmp"
echo "test PostgreSQL on 127.0.0.1:$PG_PORT"
docker_engine_start
docker_base_image
echo "test Docker engine at $DOCKER_HOST"

swift build --build-tests
# The end-to-end deploy tests run the services in containers: their binaries with the Swift runtime linked in.
scripts/build-service-binaries.sh "$workdir/service-binaries" >"$workdir/service-binaries.log" 2>&1 \
  || { cat "$workdir/service-binaries.log" >&2; exit 1; }
export STOCKOPS_SERVICE_BINARIES="$workdir/service-binaries"
TMPDIR="$workdir/tmp" swift test --skip-build "$@"
